//! panva's oidc-provider (tests/oidc/provider.mjs) on a free loopback port, stopped by
//! PID when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Provider {
    pub issuer: String,
    child: Child,
}

impl Provider {
    pub fn start(redirect_uri: &str) -> Provider {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(
            root.join("node_modules/oidc-provider").is_dir(),
            "node_modules/oidc-provider is missing: bash .ci/setup.sh node (npm ci)"
        );
        let port = super::common::free_port();
        let mut child = Command::new("node")
            .arg(root.join("tests/oidc/provider.mjs"))
            .env("PORT", port.to_string())
            .env("CLIENT_ID", super::CLIENT_ID)
            .env("CLIENT_SECRET", super::SECRET)
            .env("REDIRECT_URI", redirect_uri)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut p = Provider {
            issuer: format!("http://127.0.0.1:{port}"),
            child,
        };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.starts_with("listening on") => {}
            other => {
                p.stop();
                panic!("oidc-provider did not start: {other:?}");
            }
        }
        p
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// How many times the provider asked for credentials.
    pub async fn logins(&self) -> u64 {
        let v: serde_json::Value = reqwest::get(format!("{}/test/logins", self.issuer))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["logins"].as_u64().unwrap()
    }

    /// Who the next login signs in, and whether it reports a `fresh` or `stale` auth_time.
    pub async fn next(&self, account: &str, auth_time: &str) {
        let res = reqwest::Client::new()
            .post(format!(
                "{}/test/next?account={account}&auth_time={auth_time}",
                self.issuer
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::NO_CONTENT);
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop();
    }
}
