//! Runs of `wrk` (HTTP/1.1 over TLS; it does not check certificates) with Lua scripts that
//! vary the request and report their summary as one JSON line.

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Appended to every script: prints the summary as `WRKJSON {...}`.
const DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"mean_us":%.1f,"max_us":%.0f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean,
    latency.max))
end
"#;

#[derive(Debug, Deserialize)]
struct Raw {
    requests: f64,
    duration_us: f64,
    connect: f64,
    read: f64,
    write: f64,
    status: f64,
    timeout: f64,
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
    mean_us: f64,
    max_us: f64,
}

/// One measured wrk run.
#[derive(Debug, Clone, Serialize)]
pub struct WrkResult {
    pub name: String,
    pub requests: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub max_ms: f64,
    /// Socket errors and timeouts.
    pub errors: u64,
    /// Responses with a status other than 2xx/3xx.
    pub non_2xx: u64,
}

/// How wrk is run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WrkShape {
    pub threads: u32,
    pub connections: u32,
    pub seconds: u32,
    pub warmup_seconds: u32,
}

/// A request script: what to send, varied over `paths`.
pub struct Script {
    pub method: &'static str,
    pub paths: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Script {
    pub fn write(&self, dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
        let mut lua = String::new();
        lua.push_str(&format!("wrk.method = {}\n", lua_string(self.method)));
        for (k, v) in &self.headers {
            lua.push_str(&format!(
                "wrk.headers[{}] = {}\n",
                lua_string(k),
                lua_string(v)
            ));
        }
        if let Some(b) = &self.body {
            lua.push_str(&format!("wrk.body = {}\n", lua_string(b)));
        }
        lua.push_str("local paths = {\n");
        for p in &self.paths {
            lua.push_str(&format!("  {},\n", lua_string(p)));
        }
        lua.push_str("}\n");
        // Each thread starts at its own place in the list.
        lua.push_str(
            "local i = math.random(#paths)\n\
             request = function()\n  i = i + 1\n  if i > #paths then i = 1 end\n  \
             return wrk.format(nil, paths[i])\nend\n",
        );
        lua.push_str(DONE);
        let path = dir.join(format!("{name}.lua"));
        std::fs::write(&path, lua).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

fn run_once(
    name: &str,
    base: &str,
    script: &Path,
    shape: WrkShape,
    seconds: u32,
) -> anyhow::Result<WrkResult> {
    let out = Command::new("wrk")
        .arg(format!("-t{}", shape.threads))
        .arg(format!("-c{}", shape.connections))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(script)
        .arg(base)
        .output()
        .context("running wrk (is it installed? bench/run installs it)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("WRKJSON ")) else {
        bail!(
            "wrk gave no summary for {name}: {}\n{}",
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    };
    let raw: Raw = serde_json::from_str(line).with_context(|| format!("wrk summary: {line}"))?;
    let secs = raw.duration_us / 1e6;
    Ok(WrkResult {
        name: name.to_string(),
        requests: raw.requests as u64,
        seconds: secs,
        rps: raw.requests / secs.max(1e-9),
        p50_ms: raw.p50_us / 1000.0,
        p90_ms: raw.p90_us / 1000.0,
        p99_ms: raw.p99_us / 1000.0,
        mean_ms: raw.mean_us / 1000.0,
        max_ms: raw.max_us / 1000.0,
        errors: (raw.connect + raw.read + raw.write + raw.timeout) as u64,
        non_2xx: raw.status as u64,
    })
}

/// A warm-up run (discarded), then the measured run.
pub async fn measure(
    name: &str,
    base: &str,
    script: PathBuf,
    shape: WrkShape,
) -> anyhow::Result<WrkResult> {
    let (name, base) = (name.to_string(), base.to_string());
    tokio::task::spawn_blocking(move || {
        if shape.warmup_seconds > 0 {
            run_once(&name, &base, &script, shape, shape.warmup_seconds)?;
        }
        run_once(&name, &base, &script, shape, shape.seconds)
    })
    .await
    .context("wrk task")?
}
