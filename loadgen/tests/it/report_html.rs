//! report.html and overlay.html opened in real headless Chromium (started by the test, driven
//! over the DevTools protocol): no console errors, every chart present with drawn lines, every
//! number on the page equal to report.json's value at its data-key, nothing loaded from
//! outside the file. Screenshots are kept in target/test-artefacts/.

use std::io::{BufRead as _, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::support::{heavy, loadgen, read_json};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The charts every page has (ids of `figure.chart`), beside one percentile chart per scope.
const TIME_CHARTS: [&str; 5] = [
    "latency-over-time",
    "token-source-over-time",
    "refresh-reasons-over-time",
    "idp-over-time",
    "memory-over-time",
];

struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next: u64,
    session: Option<String>,
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts headless Chromium with DevTools on a loopback port it picks, and opens a page.
    fn start() -> Self {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} not found: this test needs Chromium; install it with `sudo apt-get install -y chromium`"
        );
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1200,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMIUM}: {e}"));
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(Ok(url.trim().to_owned()));
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            let _ = tx.send(Err(seen));
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(url)) => url,
            Ok(Err(log)) => {
                let _ = child.kill();
                panic!("Chromium exited before DevTools listened:\n{log}")
            }
            Err(_) => {
                let _ = child.kill();
                panic!("Chromium did not print its DevTools address within 30 s")
            }
        };
        let (ws, _) = tungstenite::connect(url.as_str())
            .unwrap_or_else(|e| panic!("connecting to DevTools at {url}: {e}"));
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        let mut b = Browser {
            child,
            ws,
            next: 0,
            session: None,
            events: Vec::new(),
            _profile: profile,
        };
        let target = b.cmd("Target.createTarget", json!({"url": "about:blank"}));
        let id = target["targetId"].as_str().unwrap().to_owned();
        let att = b.cmd(
            "Target.attachToTarget",
            json!({"targetId": id, "flatten": true}),
        );
        b.session = Some(att["sessionId"].as_str().unwrap().to_owned());
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            b.cmd(domain, json!({}));
        }
        b.cmd(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        );
        b
    }

    fn read(&mut self) -> Value {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => return serde_json::from_str(t.as_str()).unwrap(),
                Ok(_) => continue,
                Err(e) => panic!("reading from DevTools: {e}"),
            }
        }
    }

    /// Sends a command (to the page once attached) and returns its result; events that
    /// arrive meanwhile are kept.
    fn cmd(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let m = self.read();
            if m["id"] == json!(id) {
                assert!(m.get("error").is_none(), "{method}: {}", m["error"]);
                return m["result"].clone();
            }
            self.events.push(m);
        }
    }

    fn wait_event(&mut self, method: &str) {
        let until = Instant::now() + Duration::from_secs(30);
        while !self.events.iter().any(|e| e["method"] == method) {
            assert!(Instant::now() < until, "no {method} within 30 s");
            let m = self.read();
            self.events.push(m);
        }
    }

    fn open(&mut self, file: &Path) {
        let url = format!("file://{}", file.canonicalize().unwrap().display());
        self.events.clear();
        self.cmd("Page.navigate", json!({"url": url}));
        self.wait_event("Page.loadEventFired");
    }

    fn eval(&mut self, js: &str) -> Value {
        let r = self.cmd(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true}),
        );
        assert!(
            r.get("exceptionDetails").is_none(),
            "{}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Console errors, uncaught exceptions and error log entries seen so far.
    fn errors(&mut self) -> Vec<Value> {
        // A round trip makes sure events sent before it have been read.
        self.eval("1");
        self.events
            .iter()
            .filter(|e| {
                (e["method"] == "Runtime.consoleAPICalled" && e["params"]["type"] == "error")
                    || e["method"] == "Runtime.exceptionThrown"
                    || (e["method"] == "Log.entryAdded" && e["params"]["entry"]["level"] == "error")
            })
            .cloned()
            .collect()
    }

    fn screenshot(&mut self, name: &str) -> PathBuf {
        let m = self.cmd("Page.getLayoutMetrics", json!({}));
        let size = &m["cssContentSize"];
        let shot = self.cmd(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join("test-artefacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }
}

/// What the page holds: its charts and its numbers.
const INSPECT: &str = r#"JSON.stringify({
  charts: [...document.querySelectorAll('figure.chart')].map(f => ({
    id: f.id,
    empty: f.querySelector('[data-empty]') !== null,
    paths: [...f.querySelectorAll('svg path')].filter(p => (p.getAttribute('d') || '').trim().length > 2).length,
    dashed: f.querySelectorAll('svg path[stroke-dasharray]').length,
    width: f.querySelector('svg') ? f.querySelector('svg').getBoundingClientRect().width : 0,
    legend: [...f.querySelectorAll('ul.legend li')].map(l => l.textContent),
  })),
  numbers: [...document.querySelectorAll('[data-key]')].map(e => ({
    run: Number(e.dataset.run), key: e.dataset.key, value: e.dataset.value, text: e.textContent.trim(),
  })),
  external: document.querySelectorAll('script,link,iframe,img,object,embed,[src],[href]').length,
  csp: (document.querySelector('meta[http-equiv="Content-Security-Policy"]') || {}).content || '',
})"#;

fn lookup<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    key.split('.').try_fold(v, |v, k| match v {
        Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => v.get(k),
    })
}

/// Checks the page against the reports: returns (charts, numbers) for further checks.
fn check_page(b: &mut Browser, page: &Path, reports: &[&Value]) -> (Vec<Value>, Vec<Value>) {
    b.open(page);
    let seen: Value = serde_json::from_str(b.eval(INSPECT).as_str().unwrap()).unwrap();
    let errors = b.errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    assert_eq!(
        seen["external"], 0,
        "the page refers to something outside itself"
    );
    assert!(
        seen["csp"].as_str().unwrap().contains("default-src 'none'"),
        "{}",
        seen["csp"]
    );

    let charts = seen["charts"].as_array().unwrap().clone();
    let ids: Vec<&str> = charts.iter().map(|c| c["id"].as_str().unwrap()).collect();
    for want in TIME_CHARTS {
        assert!(ids.contains(&want), "chart {want} missing: {ids:?}");
    }
    // One percentile chart for all workloads and one per workload.
    let workloads = reports[0]["flows"].as_object().unwrap().len();
    assert_eq!(
        ids.iter().filter(|i| i.starts_with("percentiles-")).count(),
        1 + workloads,
        "{ids:?}"
    );
    for c in &charts {
        assert_eq!(c["empty"], false, "chart {} says it has no data", c["id"]);
        assert!(
            c["paths"].as_u64().unwrap() >= 1,
            "chart {} draws no line",
            c["id"]
        );
        assert!(
            c["width"].as_f64().unwrap() > 300.0,
            "chart {} is not laid out",
            c["id"]
        );
        assert!(
            !c["legend"].as_array().unwrap().is_empty(),
            "chart {} has no legend",
            c["id"]
        );
    }

    let numbers = seen["numbers"].as_array().unwrap().clone();
    for n in &numbers {
        let run = n["run"].as_u64().unwrap() as usize;
        let key = n["key"].as_str().unwrap();
        let want = lookup(reports[run], key)
            .unwrap_or_else(|| panic!("the page shows {key} (run {run}), absent from report.json"));
        let value: Value = serde_json::from_str(n["value"].as_str().unwrap()).unwrap();
        assert_eq!(
            &value, want,
            "{key} (run {run}) on the page differs from report.json"
        );
        let text = n["text"].as_str().unwrap();
        match want {
            Value::Number(x) => {
                let shown: f64 = text
                    .parse()
                    .unwrap_or_else(|_| panic!("{key}: shown as {text:?}, not a number"));
                let x = x.as_f64().unwrap();
                assert!(
                    (shown - x).abs() <= 0.0005 + x.abs() * 1e-12,
                    "{key}: shows {text}, report {x}"
                );
            }
            Value::String(s) => assert_eq!(text, s, "{key}"),
            Value::Bool(v) => assert_eq!(text.eq_ignore_ascii_case("pass"), *v, "{key}: {text}"),
            _ => {}
        }
    }
    for (run, r) in reports.iter().enumerate() {
        let keys: Vec<&str> = numbers
            .iter()
            .filter(|n| n["run"] == run)
            .map(|n| n["key"].as_str().unwrap())
            .collect();
        for want in [
            "verdict",
            "acquisitions.total",
            "durations_ms.total.p99",
            "token_source.cache_ratio",
            "identity_provider.requests",
            "memory.peak.rss_bytes",
        ] {
            assert!(keys.contains(&want), "run {run}: {want} not on the page");
        }
        let thresholds = r["thresholds"].as_array().unwrap().len();
        for k in 0..thresholds {
            assert!(keys.contains(&format!("thresholds.{k}.observed").as_str()));
            assert!(keys.contains(&format!("thresholds.{k}.pass").as_str()));
        }
    }
    (charts, numbers)
}

fn run_quickstart(dir: &Path, rate: &str) -> Value {
    let out = dir.display().to_string();
    let (code, stdout, stderr) = loadgen(&[
        "run",
        "scenarios/quickstart.yaml",
        "--out",
        &out,
        "--set",
        "duration=2m",
        "--set",
        &format!("workload[0].arrival.rate={rate}"),
    ]);
    // The quickstart's own thresholds are for release builds: pass or fail, both render.
    assert!(code == 0 || code == 99, "{stdout}{stderr}");
    read_json(&dir.join("report.json"))
}

#[test]
fn report_html_in_chromium_draws_every_chart_and_shows_report_json_numbers() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let report = run_quickstart(dir.path(), "200/s");
    // The timeline accounts for every acquisition once, its interval histograms too.
    let timeline = report["timeline"].as_array().unwrap();
    assert!(timeline.len() >= 12, "{} intervals", timeline.len());
    let per: Vec<(u64, u64)> = timeline
        .iter()
        .map(|t| {
            (
                t["acquisitions"].as_u64().unwrap(),
                t["latency_ms"]["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(per.iter().all(|(a, n)| a == n), "{per:?}");
    let sum: u64 = per.iter().map(|p| p.0).sum();
    assert_eq!(sum, report["acquisitions"]["total"].as_u64().unwrap());
    let mut b = Browser::start();
    let (charts, _) = check_page(&mut b, &dir.path().join("report.html"), &[&report]);
    assert!(
        charts.iter().all(|c| c["dashed"] == 0),
        "one run draws no dashed line"
    );
    let shot = b.screenshot("report.png");
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "{}",
        shot.display()
    );
}

#[test]
fn loadgen_report_overlays_two_runs_in_overlay_html() {
    let _turn = heavy();
    let (a, bdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ra = run_quickstart(a.path(), "200/s");
    let rb = run_quickstart(bdir.path(), "400/s");
    let out = tempfile::tempdir().unwrap();
    let (pa, pb) = (
        a.path().join("report.json"),
        bdir.path().join("report.json"),
    );
    let (code, stdout, stderr) = loadgen(&[
        "report",
        pa.to_str().unwrap(),
        pb.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("── A = ") && stdout.contains("── B = "),
        "{stdout}"
    );
    assert!(out.path().join("summary.txt").exists());
    let page = out.path().join("overlay.html");
    let mut b = Browser::start();
    let (charts, numbers) = check_page(&mut b, &page, &[&ra, &rb]);
    for c in &charts {
        assert!(
            c["dashed"].as_u64().unwrap() >= 1,
            "chart {} lacks run B",
            c["id"]
        );
        let legend: Vec<&str> = c["legend"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert!(
            legend.iter().any(|l| l.starts_with("A · "))
                && legend.iter().any(|l| l.starts_with("B · ")),
            "chart {}: {legend:?}",
            c["id"]
        );
    }
    assert!(numbers.iter().any(|n| n["run"] == 1));
    b.screenshot("overlay.png");
}

#[test]
fn loadgen_report_rejects_a_missing_or_foreign_file_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let (code, _, stderr) = loadgen(&["report", missing.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nope.json"), "{stderr}");
    let foreign = dir.path().join("other.json");
    std::fs::write(&foreign, r#"{"hello": 1}"#).unwrap();
    let (code, _, stderr) = loadgen(&["report", foreign.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("other.json") && stderr.contains("not a loadgen report"),
        "{stderr}"
    );
    let (code, _, stderr) = loadgen(&["report", "a.json", "b.json", "c.json"]);
    assert_eq!(code, 2, "three reports: {stderr}");
}
