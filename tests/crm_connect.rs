//! Kafka Connect reads Debrief's CRM task records: a real Kafka Connect 4.1.1 standalone
//! worker (`org.apache.kafka.connect.cli.ConnectStandalone`, jars from `scripts/kafka.sh
//! classpath`) runs `FileStreamSinkConnector` with `JsonConverter` (`schemas.enable=true`) on
//! the Salesforce task topic. The file it writes must hold one record per task, in
//! order, each naming the task's external id and subject as the insights give them, and the
//! tombstone written after them must reach the sink as a delete (a null value, which the file
//! sink writes as `null`). The worker is stopped on every exit (drop guard).

mod common;

use debrief::crm::{self, connect, CrmKind, RecordType};
use debrief::extract::{analyse, ExtractContext, Settings};
use debrief::ingest::files;
use debrief::insight::{ActionType, FinalisedBy, Insight};
use debrief::tenant::{apply_tenant_sides, TenantConfig, TenantRuntime};
use rdkafka::producer::FutureRecord;
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

/// Writes the Salesforce task records of `insights` to `topic` as Kafka Connect JSON, keyed
/// by external id, one partition so the file's order is the topic's. Returns the keys.
/// Until the CRM output step is part of `debrief run`, the records are produced here with the
/// encoder that step uses (`debrief::crm::connect`); then the pipeline writes them.
async fn write_task_topic(brokers: &str, topic: &str, insights: &[Insight]) -> Vec<String> {
    let producer = common::producer(brokers);
    let mut keys = Vec::new();
    for insight in insights {
        let mapping = crm::defaults::mapping(CrmKind::Salesforce, &insight.tenant_id).unwrap();
        for task in crm::build(insight, &mapping).tasks {
            let value = connect::encode(&task);
            producer
                .send(
                    FutureRecord::to(topic)
                        .key(connect::key(&task))
                        .payload(&value),
                    Duration::from_secs(30),
                )
                .await
                .unwrap_or_else(|(e, _)| panic!("produce to {topic}: {e}"));
            keys.push(task.external_id);
        }
    }
    keys
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
async fn a_kafka_connect_file_sink_writes_every_task_and_sees_the_tombstone_as_a_delete() {
    let brokers = common::brokers();
    let topic = common::unique_name(&crm::default_topic(CrmKind::Salesforce, RecordType::Task));
    common::create_topic(&brokers, &topic, 1).await;
    let insights = example_insights();
    let keys = write_task_topic(&brokers, &topic, &insights).await;
    let items: Vec<_> = insights.iter().flat_map(|i| &i.action_items).collect();
    assert_eq!(keys.len(), items.len());
    assert!(keys.len() >= 10, "the examples have many action items");
    tombstone(&brokers, &topic, &keys[0]).await;

    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("sink.txt");
    let mut worker = Worker::start(dir.path(), &brokers, &topic);
    let lines = worker.wait_for_records(&sink, keys.len() + 1);
    drop(worker);

    assert_eq!(
        lines.len(),
        keys.len() + 1,
        "one record per task and the tombstone:\n{}",
        lines.join("\n")
    );
    for ((line, key), item) in lines.iter().zip(&keys).zip(&items) {
        // FileStreamSink writes the Connect Struct: `Struct{Field=value,...}`, null fields
        // left out, in the schema's (the mapping's) field order.
        assert!(line.starts_with("Struct{"), "{line}");
        assert!(
            line.contains(&format!("Debrief_External_Id__c={key},")),
            "{line} lacks {key}"
        );
        let subject = format!("Subject={}: {},", type_label(item.action_type), item.text);
        assert!(line.contains(&subject), "{line} lacks {subject}");
        let description = format!("Description={}\n\nOwner: ", item.text);
        assert!(line.contains(&description), "{line} lacks {description}");
        // The lookup arrives as a nested struct naming the insight record.
        assert!(
            line.contains("What=Struct{attributes=Struct{type=Debrief_Conversation_Insight__c}"),
            "{line}"
        );
    }
    assert_eq!(
        lines[keys.len()],
        "null",
        "the tombstone reaches the sink as a null value"
    );
}
