//! Kafka Connect reads the CRM task records `debrief run` writes: the service (the real
//! binary, `crm_records.salesforce.format = "connect_json"`) analyses the example
//! conversations of a Salesforce tenant (`examples/tenant.yaml`), and a real Kafka Connect
//! 4.1.1 standalone worker (`org.apache.kafka.connect.cli.ConnectStandalone`, jars from
//! `scripts/kafka.sh classpath`) runs `FileStreamSinkConnector` with `JsonConverter`
//! (`schemas.enable=true`) on the Salesforce task topic. The file it writes must hold one
//! record per action item of the insights `debrief process` gives for the same
//! conversations, each with the task's external id, subject, description and insight lookup;
//! a tombstone written afterwards must reach the sink as a delete (a null value, which the
//! file sink writes as `null`). The worker and the service are stopped on every exit (drop
//! guards).

mod common;

use common::stream;
use debrief::crm::{self, CrmKind, RecordType};
use debrief::extract::{analyse, ExtractContext, Settings};
use debrief::ingest::files;
use debrief::ingest::stream::{to_events, ConvertOptions, Mode};
use debrief::insight::{ActionType, FinalisedBy, Insight};
use debrief::tenant::{apply_tenant_sides, Crm, TenantConfig, TenantRuntime};
use rdkafka::producer::FutureRecord;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the worker may take to start, join its group and write every line (a failure
/// guard only: the test passes as soon as the file is complete).
const SINK_DEADLINE: Duration = Duration::from_secs(180);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example conversations' insights, as `debrief process --config examples/tenant.yaml`
/// gives them.
fn example_insights() -> Vec<Insight> {
    let config = TenantConfig::from_path(&root().join("examples/tenant.yaml")).unwrap();
    let tenant = TenantRuntime::compile(config).unwrap();
    let settings = Settings::default();
    let ctx = ExtractContext {
        settings: &settings,
        tenant: Some(&tenant),
        finalised_by: FinalisedBy::File,
        reference_time: None,
    };
    files::open(&root().join("examples/conversations.jsonl"))
        .unwrap()
        .map(|conv| {
            let mut conv = conv.unwrap();
            apply_tenant_sides(&mut conv, &tenant.config);
            conv.tenant_id = tenant.config.tenant_id.clone();
            analyse(&conv, &ctx)
        })
        .collect()
}

/// The examples as contract events (one complete transcript each), keyed by conversation id.
async fn publish_examples(brokers: &str, topic: &str) {
    let opts = ConvertOptions {
        mode: Mode::Complete,
        ..ConvertOptions::default()
    };
    let producer = common::producer(brokers);
    for conv in files::open(&root().join("examples/conversations.jsonl")).unwrap() {
        let events = to_events(&conv.unwrap(), &opts);
        stream::publish(&producer, topic, &events).await;
    }
}

/// `examples/tenant.yaml` on the tenant-configuration topic.
async fn publish_tenant(brokers: &str, topic: &str) {
    let config = TenantConfig::from_path(&root().join("examples/tenant.yaml")).unwrap();
    assert_eq!(config.crm, Crm::Salesforce);
    let bytes = stream::codec().encode(topic, &config).unwrap();
    common::produce(
        &common::producer(brokers),
        topic,
        config.tenant_id.as_bytes(),
        &bytes,
        None,
    )
    .await;
}

/// The service, killed (and reaped) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        stream::kill(&mut self.0);
    }
}

/// Writes a tombstone (no value) under `key`.
async fn tombstone(brokers: &str, topic: &str, key: &str) {
    common::producer(brokers)
        .send(
            FutureRecord::<str, [u8]>::to(topic).key(key),
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("tombstone to {topic}: {e}"));
}

/// A running Connect worker, killed (and reaped) when dropped, whatever the test's outcome.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Worker {
    /// Starts `ConnectStandalone` with a worker and a file-sink connector configuration in
    /// `dir`, reading `topic` from `brokers` into `dir/sink.txt`.
    fn start(dir: &Path, brokers: &str, topic: &str) -> Worker {
        let classpath_file = Command::new(root().join("scripts/kafka.sh"))
            .arg("classpath")
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/kafka.sh classpath runs");
        assert!(
            classpath_file.status.success(),
            "scripts/kafka.sh classpath failed"
        );
        let classpath_file = String::from_utf8(classpath_file.stdout).unwrap();
        let classpath = std::fs::read_to_string(classpath_file.trim()).unwrap();
        let rest_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let worker = dir.join("worker.properties");
        std::fs::write(
            &worker,
            format!(
                "bootstrap.servers={brokers}\n\
                 key.converter=org.apache.kafka.connect.storage.StringConverter\n\
                 value.converter=org.apache.kafka.connect.json.JsonConverter\n\
                 value.converter.schemas.enable=true\n\
                 offset.storage.file.filename={offsets}\n\
                 offset.flush.interval.ms=1000\n\
                 listeners=http://127.0.0.1:{rest_port}\n\
                 consumer.auto.offset.reset=earliest\n",
                offsets = dir.join("offsets").display(),
            ),
        )
        .unwrap();
        let connector = dir.join("sink.properties");
        std::fs::write(
            &connector,
            format!(
                "name={name}\n\
                 connector.class=org.apache.kafka.connect.file.FileStreamSinkConnector\n\
                 tasks.max=1\n\
                 topics={topic}\n\
                 file={file}\n",
                name = common::unique_name("crm-file-sink"),
                file = dir.join("sink.txt").display(),
            ),
        )
        .unwrap();
        let log = dir.join("connect.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("java")
            .args([
                "-Xms64m",
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
            ])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                root().join("scripts/kafka/log4j2.properties").display()
            ))
            .arg("-cp")
            .arg(classpath.trim())
            .arg("org.apache.kafka.connect.cli.ConnectStandalone")
            .arg(&worker)
            .arg(&connector)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("java starts");
        Worker { child, log }
    }

    /// The sink file's records once it has `n`, or a panic with the worker's log tail.
    fn wait_for_records(&mut self, file: &Path, n: usize) -> Vec<String> {
        let deadline = Instant::now() + SINK_DEADLINE;
        loop {
            let lines = records(&std::fs::read_to_string(file).unwrap_or_default());
            if lines.len() >= n {
                return lines;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the Connect worker exited ({status}):\n{}", self.log_tail());
            }
            if Instant::now() > deadline {
                panic!(
                    "{} of {n} lines in {} after {SINK_DEADLINE:?}; worker log:\n{}",
                    lines.len(),
                    file.display(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// Splits the file sink's output into records: the file sink writes each value's `toString()`
/// and a line break, and a task's description has line breaks of its own, so a record starts
/// at a line that opens a task struct or is `null` (a deleted record).
fn records(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        match out.last_mut() {
            Some(last) if !line.starts_with("Struct{Debrief_External_Id__c=") && line != "null" => {
                last.push('\n');
                last.push_str(line);
            }
            _ => out.push(line.to_owned()),
        }
    }
    out
}

fn type_label(t: ActionType) -> &'static str {
    match t {
        ActionType::Call => "Call",
        ActionType::Email => "Email",
        ActionType::Meeting => "Meeting",
        ActionType::Task => "Task",
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_kafka_connect_file_sink_writes_every_task_of_the_pipeline_and_a_tombstone_as_a_delete() {
    let brokers = common::brokers();
    let service = stream::Service::create(&brokers, "crm-connect", 1).await;
    let tasks = common::unique_name(&crm::default_topic(CrmKind::Salesforce, RecordType::Task));
    let insights_topic = common::unique_name(&crm::default_topic(
        CrmKind::Salesforce,
        RecordType::Insight,
    ));
    common::create_topic(&brokers, &tasks, 1).await;
    common::create_topic(&brokers, &insights_topic, 1).await;
    let service = service
        .with("DEBRIEF__CRM_RECORDS__ENABLED", "true")
        .with("DEBRIEF__CRM_RECORDS__SALESFORCE__TASKS", &tasks)
        .with(
            "DEBRIEF__CRM_RECORDS__SALESFORCE__INSIGHTS",
            &insights_topic,
        )
        .with("DEBRIEF__CRM_RECORDS__SALESFORCE__FORMAT", "connect_json");
    publish_tenant(&brokers, &service.tenant_config).await;
    publish_examples(&brokers, &service.transcripts).await;
    let _running = Running(service.spawn());

    // What `debrief process` gives for the same conversations: one task per action item,
    // keyed `<insight id>-tNNN`.
    let mut expected = BTreeMap::new();
    for insight in example_insights() {
        let insight_id = crm::external_id::insight(&insight.tenant_id, &insight.conversation_id);
        for (i, item) in insight.action_items.iter().enumerate() {
            expected.insert(crm::external_id::task(&insight_id, i), item.clone());
        }
    }
    assert!(expected.len() >= 10, "the examples have many action items");

    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("sink.txt");
    let mut worker = Worker::start(dir.path(), &brokers, &tasks);
    let records = worker.wait_for_records(&sink, expected.len());
    assert_eq!(records.len(), expected.len(), "{}", records.join("\n"));
    let mut seen = BTreeMap::new();
    for record in &records {
        // FileStreamSink writes the Connect Struct: `Struct{Field=value,...}`, null fields
        // left out, in the schema's (the mapping's) field order.
        let key = record
            .strip_prefix("Struct{Debrief_External_Id__c=")
            .and_then(|r| r.split(',').next())
            .unwrap_or_else(|| panic!("no key in {record}"));
        let item = expected
            .get(key)
            .unwrap_or_else(|| panic!("{key} is not a task of the insights"));
        let subject = format!("Subject={}: {},", type_label(item.action_type), item.text);
        assert!(record.contains(&subject), "{record} lacks {subject}");
        let description = format!("Description={}\n\nOwner: ", item.text);
        assert!(
            record.contains(&description),
            "{record} lacks {description}"
        );
        // The lookup arrives as a nested struct naming the insight record.
        let insight_id = &key[..key.len() - "-t000".len()];
        let lookup = format!(
            "What=Struct{{attributes=Struct{{type=Debrief_Conversation_Insight__c}},Debrief_External_Id__c={insight_id}}}"
        );
        assert!(record.contains(&lookup), "{record} lacks {lookup}");
        assert!(seen.insert(key.to_string(), ()).is_none(), "{key} twice");
    }
    assert_eq!(seen.len(), expected.len(), "every task once");

    let erased = expected.keys().next().unwrap().clone();
    tombstone(&brokers, &tasks, &erased).await;
    let records = worker.wait_for_records(&sink, expected.len() + 1);
    assert_eq!(
        records.last().map(String::as_str),
        Some("null"),
        "the tombstone reaches the sink as a null value"
    );
    drop(worker);
}
