//! A background task that dies stops the service: `debrief run` with its tenant reader
//! killed (the `DEBRIEF_TEST_STOP_TENANT_READER` hook makes it fail as soon as it starts)
//! exits non-zero with an error naming the tenant reader. No broker is needed: the clients
//! connect lazily, and the reader fails before it reads anything.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_killed_tenant_reader_stops_the_service_with_an_error_naming_it() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_debrief"))
        .arg("run")
        // Nothing listens on the discard port: the transcript consumer just waits.
        .env("DEBRIEF__KAFKA__BROKERS", "127.0.0.1:9")
        .env("DEBRIEF__HTTP__LISTEN", "127.0.0.1:0")
        .env("DEBRIEF_TEST_STOP_TENANT_READER", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start debrief run");
    // Only a guard against hanging forever (the service would run until a signal if the
    // dead reader went unnoticed); the assertions below do not depend on timing.
    let limit = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for debrief run") {
            break Some(status);
        }
        if Instant::now() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = status.unwrap_or_else(|| {
        panic!("debrief run kept running without its tenant reader; stderr:\n{stderr}")
    });
    assert!(!status.success(), "exit status {status}; stderr:\n{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: the tenant reader stopped: "),
        "the last line names the dead task: {last:?}; stderr:\n{stderr}"
    );
    assert!(
        last.contains("DEBRIEF_TEST_STOP_TENANT_READER"),
        "and says why: {last:?}"
    );
}
