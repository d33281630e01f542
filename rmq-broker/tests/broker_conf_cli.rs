//! The `rmq-broker` binary with Java broker.conf files: refused keys stop it with one line naming the key,
//! `--print-config` shows only what rmq implements, and Java-only keys are noted rather than warned about.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs the binary on `conf` (plus `args`) with ephemeral ports and a store under `dir`, to completion.
fn run(dir: &Path, conf: &str, args: &[&str]) -> Output {
    let path = dir.join("broker.conf");
    std::fs::write(&path, conf).expect("write broker.conf");
    Command::new(env!("CARGO_BIN_EXE_rmq-broker"))
        .args([
            "--namesrv-listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--store",
        ])
        .arg(dir.join("store"))
        .arg("-c")
        .arg(&path)
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run rmq-broker")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn sync_master_and_slave_roles_are_refused_with_one_line() {
    for role in ["SYNC_MASTER", "SLAVE"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = run(
            dir.path(),
            &format!("brokerClusterName=DefaultCluster\nbrokerName=broker-a\nbrokerRole={role}\n"),
            &[],
        );
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{role} must not start: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "no READY line: {}",
            text(&out.stdout)
        );
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr: {stderr}");
        assert!(
            lines[0].contains("`brokerRole`")
                && lines[0].contains(role)
                && lines[0].contains("replication is not implemented"),
            "{stderr}"
        );
        assert!(
            !dir.path().join("store").exists(),
            "refused before the store is touched"
        );
    }
}

#[test]
fn enabled_acl_is_refused_and_async_master_starts_as_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(dir.path(), "aclEnable=true\n", &["--print-config"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("`aclEnable`") && stderr.contains("ACL"),
        "{stderr}"
    );

    let out = run(
        dir.path(),
        "brokerRole=ASYNC_MASTER\naclEnable=false\n",
        &["--print-config"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout)
        .lines()
        .any(|l| l == "brokerRole=ASYNC_MASTER"));
}

#[test]
fn print_config_shows_implemented_keys_and_notes_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = "\
# a RocketMQ 4.x broker.conf
brokerClusterName=DefaultCluster
mapedFileSizeCommitLog=67108864
sendMessageThreadPoolNums=16
useReentrantLockWhenPutMessage=true
storePathIndex=/data/rocketmq/index
brokerNmae=typo
";
    let out = run(dir.path(), conf, &["--print-config"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let keys: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    assert_eq!(keys, rmq_broker::config::IMPLEMENTED_KEYS, "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l == "mappedFileSizeCommitLog=67108864"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l == "storePathIndex=/data/rocketmq/index"),
        "{stdout}"
    );
    assert!(!stdout.contains("sendMessageThreadPoolNums"), "{stdout}");

    let line_of = |needle: &str| {
        stderr
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{stderr}"))
            .to_string()
    };
    assert!(line_of("sendMessageThreadPoolNums has no effect in rmq").contains("INFO"));
    assert!(line_of("useReentrantLockWhenPutMessage has no effect in rmq").contains("INFO"));
    assert!(line_of("mapedFileSizeCommitLog is the RocketMQ 4.0-4.5.1 spelling").contains("INFO"));
    let typo = line_of("brokerNmae");
    assert!(
        typo.contains("WARN") && typo.contains("did you mean `brokerName`?"),
        "{typo}"
    );
    assert!(
        !stderr.contains("unknown broker config key `sendMessageThreadPoolNums`"),
        "{stderr}"
    );
}
