//! The report as one self-contained HTML page.

use super::records::{
    BootRecord, IpcRecord, IsolatedCoreRecord, RealtimeRecord, VirtualizedRecord,
};
use super::svg::histogram_svg;
use super::Report;
use crate::latency::Histogram;
use std::fmt::Write as _;

impl Report {
    /// For a target that is not deterministic (a board, a free-running
    /// QEMU): the same figures in nanoseconds, at the counter frequency each
    /// probe read.
    fn time_html(&self, html: &mut String) {
        let in_ns = |run: &str, measurement: &str| -> Option<String> {
            let run = self.run(run)?;
            let hz = run.counter_hz.filter(|&hz| hz > 0)? as f64;
            let s = run.stats(measurement)?;
            let ns = |ticks: f64| ticks * 1e9 / hz;
            Some(format!(
                "<td>{:.0}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td>",
                ns(s.min as f64),
                ns(s.avg),
                ns(s.p99 as f64),
                ns(s.max as f64)
            ))
        };
        if self.runs.iter().all(|run| run.counter_hz.is_none()) {
            return;
        }
        html.push_str(
            "<h3>The same in nanoseconds</h3>\n<table><tr><th rowspan=\"2\">Measurement</th>\
             <th colspan=\"4\">Native (ns)</th><th colspan=\"4\">Bulkhead cell (ns)</th></tr>\n\
             <tr><th>min</th><th>avg</th><th>p99</th><th>max</th>\
             <th>min</th><th>avg</th><th>p99</th><th>max</th></tr>\n",
        );
        for row in &self.comparison {
            let _ = writeln!(
                html,
                "<tr><td>{}</td>{}{}</tr>",
                escape(&row.measurement),
                in_ns("native", &row.measurement)
                    .unwrap_or_else(|| "<td colspan=\"4\">–</td>".to_string()),
                in_ns("bulkhead", &row.measurement)
                    .unwrap_or_else(|| "<td colspan=\"4\">–</td>".to_string()),
            );
        }
        html.push_str("</table>\n");
    }

    /// The self-contained HTML page.
    pub fn to_html(&self) -> String {
        let p = &self.provenance;
        let mut html = String::new();
        let title = format!("Bulkhead interrupt latency on {}", p.target.name);
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{}</title>\n<style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
            escape(&title),
            escape(&title)
        );
        let _ = writeln!(
            html,
            "<p class=\"statement\"><strong>What these numbers are.</strong> {}</p>",
            escape(&self.statement)
        );

        // Verdict.
        let (class, verdict) = match (self.budget.checked, self.budget.passed) {
            (false, _) => ("none", "Budget not checked"),
            (true, true) => ("pass", "Budget met"),
            (true, false) => ("fail", "Budget VIOLATED"),
        };
        let _ = writeln!(
            html,
            "<p class=\"verdict {class}\">{verdict}: {}</p>",
            escape(&self.budget.note)
        );
        if !self.budget.checks.is_empty() {
            html.push_str(
                "<table><tr><th>Measurement</th><th>Bound</th><th>Limit</th>\
                 <th>Measured</th><th>Result</th></tr>\n",
            );
            for check in &self.budget.checks {
                let _ = writeln!(
                    html,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                    escape(&check.measurement),
                    escape(&check.bound),
                    number(check.limit),
                    check.measured.map_or("–".to_string(), |m| {
                        if check.bound == "max_ticks" {
                            number(m)
                        } else {
                            format!("{m:.2}")
                        }
                    }),
                    if check.passed { "pass" } else { "fail" },
                    escape(&check.message)
                );
            }
            html.push_str("</table>\n");
        }

        // The table.
        let unit = if p.target.deterministic {
            "ticks = instructions"
        } else {
            "counter ticks"
        };
        let _ = writeln!(html, "<h2>Native against Bulkhead ({unit})</h2>");
        html.push_str(
            "<table><tr><th rowspan=\"2\">Measurement</th><th colspan=\"4\">Native</th>\
             <th colspan=\"4\">Bulkhead cell</th><th colspan=\"2\">Bulkhead / native</th></tr>\n\
             <tr><th>min</th><th>avg</th><th>p99</th><th>max</th>\
             <th>min</th><th>avg</th><th>p99</th><th>max</th><th>avg</th><th>p99</th></tr>\n",
        );
        for row in &self.comparison {
            let _ = write!(
                html,
                "<tr><td>{}<br><small>{}</small></td>",
                escape(&row.measurement),
                escape(&row.label)
            );
            for stats in [row.native, row.bulkhead] {
                match stats {
                    Some(s) => {
                        let _ = write!(
                            html,
                            "<td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td>",
                            s.min, s.avg, s.p99, s.max
                        );
                    }
                    None => html.push_str("<td colspan=\"4\">not measured</td>"),
                }
            }
            for ratio in [row.ratio_avg, row.ratio_p99] {
                let _ = write!(
                    html,
                    "<td>{}</td>",
                    ratio.map_or("–".to_string(), |r| format!("{r:.2}×"))
                );
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</table>\n");
        let warm_ups: Vec<String> = self
            .runs
            .iter()
            .filter_map(|run| Some(format!("{} {}", run.name, run.warm_up?)))
            .collect();
        if !warm_ups.is_empty() {
            let _ = writeln!(
                html,
                "<p>Before recording, each measurement took warm-up samples and dropped them \
                 (cold caches, TLBs, and in QEMU untranslated code), per run: {}.</p>",
                escape(&warm_ups.join(", "))
            );
        }
        if !p.target.deterministic {
            self.time_html(&mut html);
        }
        let lost: Vec<String> = self
            .runs
            .iter()
            .flat_map(|run| {
                run.measurements
                    .iter()
                    .filter(|(_, m)| m.histogram.lost > 0)
                    .map(move |(name, m)| format!("{} {name}: {} lost", run.name, m.histogram.lost))
            })
            .collect();
        if !lost.is_empty() {
            let _ = writeln!(
                html,
                "<p class=\"verdict fail\">Interrupts that never arrived: {}</p>",
                escape(&lost.join("; "))
            );
        }

        // Histograms.
        html.push_str(
            "<h2>Histograms</h2>\n<p>Samples per latency value; counts on a log scale, \
             as in OSADL latency plots.</p>\n",
        );
        for row in &self.comparison {
            let series: Vec<(&str, &str, &Histogram)> = [
                ("native", "native", "#1f77b4"),
                ("bulkhead", "Bulkhead cell", "#ff7f0e"),
            ]
            .iter()
            .filter_map(|&(run, name, color)| {
                let histogram = &self.run(run)?.measurements.get(&row.measurement)?.histogram;
                Some((name, color, histogram))
            })
            .collect();
            let _ = writeln!(
                html,
                "<h3>{}</h3>\n{}",
                escape(&row.label),
                histogram_svg(&series, unit)
            );
        }

        if let Some(rt) = &self.realtime {
            realtime_html(&mut html, rt);
        }
        if let Some(iso) = &self.isolated_core {
            isolated_core_html(&mut html, iso);
        }
        if let Some(ipc) = &self.ipc {
            ipc_html(&mut html, ipc, p.target.deterministic);
        }
        if let Some(boot) = &self.boot {
            boot_html(&mut html, boot);
        }
        if let Some(v) = &self.virtualized {
            virtualized_html(&mut html, v);
        }

        // Provenance.
        html.push_str("<h2>Provenance</h2>\n<table class=\"provenance\">\n");
        let mut row = |key: &str, value: &str| {
            let _ = writeln!(
                html,
                "<tr><th>{}</th><td><code>{}</code></td></tr>",
                escape(key),
                escape(value)
            );
        };
        row("Target", &p.target.name);
        row("Target file", p.target.file.as_deref().unwrap_or("–"));
        row("Target kind", &p.target.kind);
        if let Some(description) = &p.target.description {
            row("Target description", description);
        }
        row(
            "Counter frequency",
            &p.target
                .cntfrq_hz
                .map_or("board default".to_string(), |hz| format!("{hz} Hz")),
        );
        row(
            "Deterministic (icount)",
            if p.target.deterministic { "yes" } else { "no" },
        );
        row("Lab config", p.lab_config.as_deref().unwrap_or("–"));
        row("QEMU version", p.qemu_version.as_deref().unwrap_or("–"));
        row("Git revision", p.git_revision.as_deref().unwrap_or("–"));
        row("Rust compiler", p.rustc_version.as_deref().unwrap_or("–"));
        if !p.guest_packages.is_empty() {
            row(
                "Guest packages (Debian arm64)",
                &p.guest_packages.join(", "),
            );
        }
        row("Generated", &utc_text(p.generated_unix_s));
        for run in &self.runs {
            row(&format!("Run `{}`", run.name), &run.command);
            if let Some(dir) = &run.log_dir {
                row(&format!("Run `{}` logs", run.name), dir);
            }
        }
        if let Some(ipc) = &self.ipc {
            row("IPC lab run", &ipc.command);
            row("IPC lab logs", &ipc.log_dir);
        }
        if let Some(boot) = &self.boot {
            row("Boot-time run", &boot.command);
        }
        if let Some(iso) = &self.isolated_core {
            row("Isolated-core lab run", &iso.command);
            if let Some(dir) = &iso.log_dir {
                row("Isolated-core lab logs", dir);
            }
        }
        if let Some(rt) = &self.realtime {
            row("Real-time lab run", &rt.command);
            if let Some(dir) = &rt.log_dir {
                row("Real-time lab logs", dir);
            }
        }
        html.push_str("</table>\n</body></html>\n");
        html
    }
}

/// The virtualized probe's section: direct against virtualized delivery,
/// with Bao's figures and the targets.
fn virtualized_html(html: &mut String, v: &VirtualizedRecord) {
    let _ = writeln!(
        html,
        "<h2>Virtualized delivery</h2>\n<p>The same probe in a cell whose interrupts are \
         virtualized (<code>{}</code>): every interrupt exits to the partitioner, which lists \
         it for the cell. Not a budget: the figures are set against direct delivery, Bao's \
         trap-and-inject in this lab, and the targets.</p>",
        escape(&v.config)
    );
    html.push_str(
        "<table><tr><th>Measurement</th><th>Direct min/avg/p99/max</th>\
         <th>Virtualized min/avg/p99/max</th><th>Bao</th><th>Target</th></tr>\n",
    );
    let stats = |s: Option<crate::latency::Stats>| {
        s.map_or("–".to_string(), |s| {
            format!("{}/{}/{}/{}", s.min, number(s.avg), s.p99, s.max)
        })
    };
    let ticks = |t: Option<u64>| t.map_or("–".to_string(), |t| t.to_string());
    for row in &v.rows {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&row.label),
            stats(row.direct),
            stats(row.virtualized),
            ticks(row.bao_ticks),
            ticks(row.target_ticks)
        );
    }
    html.push_str("</table>\n");
}

/// The real-time lab's section: a table per phase, the histograms, and
/// the control loop's round trips.
fn realtime_html(html: &mut String, rt: &RealtimeRecord) {
    let _ = writeln!(
        html,
        "<h2>Real-time cell <code>{}</code>: cyclictest, neighbour idle, loaded, crashing</h2>\n\
         <p class=\"statement\">{}</p>",
        escape(&rt.cell),
        escape(&rt.statement)
    );
    if let Some(budget) = rt.latency_budget_us {
        let _ = writeln!(
            html,
            "<p>The cell's <code>latency_budget</code>: {} us.</p>",
            number(budget)
        );
    }
    html.push_str(
        "<table><tr><th>Phase</th><th>Rounds</th><th>Samples</th><th>min</th><th>avg</th>\
         <th>p99</th><th>max</th><th>Beyond 2000 us</th></tr>\n",
    );
    for phase in &rt.phases {
        let _ = write!(
            html,
            "<tr><td>{}<br><small>{}</small></td><td>{}</td>",
            phase.phase.name(),
            escape(&phase.label),
            phase.rounds
        );
        match phase.stats {
            Some(s) => {
                let _ = write!(
                    html,
                    "<td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td>",
                    s.samples, s.min, s.avg, s.p99, s.max
                );
            }
            None => html.push_str("<td colspan=\"5\">no round in this phase</td>"),
        }
        let _ = writeln!(html, "<td>{}</td></tr>", phase.histogram.lost);
    }
    html.push_str("</table>\n");
    const COLORS: [&str; 3] = ["#2ca02c", "#d62728", "#9467bd"];
    let series: Vec<(&str, &str, &Histogram)> = rt
        .phases
        .iter()
        .zip(COLORS)
        .map(|(phase, color)| (phase.phase.name(), color, &phase.histogram))
        .collect();
    let _ = writeln!(
        html,
        "<h3>cyclictest latency by phase</h3>\n{}",
        histogram_svg(&series, "us")
    );
    if !rt.ipc.is_empty() {
        html.push_str(
            "<h3>IPC: the control loop's round trips to the containers cell</h3>\n\
             <p>Each line is one report of <code>bulkhead-ipc control</code> (1000 samples/s \
             out, a setpoint back from the gateway for each): the round trip from publishing a \
             sample to reading its setpoint, which the control loop does once per period.</p>\n\
             <table><tr><th>Phase</th><th>Samples/s</th><th>Setpoints/s</th><th>min us</th>\
             <th>avg us</th><th>max us</th></tr>\n",
        );
        for report in &rt.ipc {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                report.phase.name(),
                report.sent_per_s,
                report.back_per_s,
                report.min_us,
                report.avg_us,
                report.max_us
            );
        }
        html.push_str("</table>\n");
    }
}

/// The isolated-core lab's section: the isolated core's exits.
fn isolated_core_html(html: &mut String, iso: &IsolatedCoreRecord) {
    let _ = writeln!(
        html,
        "<h2>Isolated core: no exit while measuring</h2>\n\
         <p>The real-time lab with a two-CPU real-time cell \
         (<code>configs/qemu-rt-isolated.yaml</code>, QEMU without icount): CPU {} is isolated \
         and runs only cyclictest's measuring thread, with <code>wfi: direct</code>, while the \
         neighbour idles, is loaded, crashes and restarts. The partitioner counts every exit of \
         every core; the bound, from the first count after it began measuring to the last: no \
         exit at all, not even an IPI its own kernel sends (docs/hil.md says how its kernel \
         is kept from sending any).</p>\n<p>{}</p>",
        iso.cpu,
        escape(&iso.summary())
    );
    if let Some(figures) = &iso.cyclictest {
        let _ = writeln!(
            html,
            "<p>cyclictest's last figures there (us; free-running QEMU, indicative only): \
             <code>{}</code></p>",
            escape(figures)
        );
    }
}

/// The IPC lab's section: latencies and throughput against memcpy.
fn ipc_html(html: &mut String, ipc: &IpcRecord, deterministic: bool) {
    let bench = &ipc.bench;
    let unit = if deterministic {
        "ticks = instructions"
    } else {
        "counter ticks"
    };
    let _ = writeln!(
        html,
        "<h2>IPC between two bare-metal cells ({unit})</h2>\n\
         <p>One channel between two cells on their own CPUs (<code>configs/qemu-ipc-lab.yaml</code>), \
         through <code>bulkhead-channel</code>: <em>one way</em> is from just before <code>send</code> \
         to the first instruction of the receiver's doorbell handler, the receiver waiting \
         in WFI with the interrupt masked; <em>notification</em> is the same from the store to the Doorbell register; \
         <em>round trip</em> is <code>send</code> to the echo's arrival. Throughput streams \
         1 MiB in messages of each size; the receiver copies each message out; memcpy copies the \
         same bytes once, RAM to RAM, in the same run.</p>"
    );
    html.push_str(
        "<table><tr><th>Latency</th><th>Samples</th><th>min</th><th>avg</th><th>p99</th>\
         <th>max</th></tr>\n",
    );
    for (name, histogram) in [
        ("one way", &bench.oneway),
        ("notification", &bench.notify),
        ("round trip", &bench.roundtrip),
    ] {
        match histogram.stats() {
            Some(s) => {
                let _ = writeln!(
                    html,
                    "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
                    s.samples, s.min, s.avg, s.p99, s.max
                );
            }
            None => {
                let _ = writeln!(
                    html,
                    "<tr><td>{name}</td><td colspan=\"5\">no samples</td></tr>"
                );
            }
        }
    }
    html.push_str("</table>\n");
    if let Some(ratio) = ipc.round_trip_in_notifications() {
        let _ = writeln!(
            html,
            "<p>A round trip takes {ratio:.2} notifications, Doorbell store to the \
             receiver's handler (target: under 3 interrupt latencies).</p>"
        );
    }
    let hz = bench.counter_hz.unwrap_or(0);
    html.push_str(
        "<table><tr><th>Message</th><th>Messages</th><th>Ticks per message</th>\
         <th>Messages/s</th><th>MB/s</th><th>memcpy MB/s</th><th>Share of memcpy</th></tr>\n",
    );
    for t in &bench.throughput {
        let per_second = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
        let _ = writeln!(
            html,
            "<tr><td>{} B</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.message_size,
            t.messages,
            t.ticks_per_message().map_or("–".to_string(), |v| format!("{v:.0}")),
            per_second(t.messages_per_second(hz)),
            per_second(t.megabytes_per_second(hz)),
            per_second(t.memcpy_megabytes_per_second(hz)),
            t.memcpy_ratio()
                .filter(|r| *r > 0.0)
                .map_or("–".to_string(), |r| format!("{:.0}%", 100.0 / r)),
        );
    }
    html.push_str(
        "</table>\n<p>Target for 4 KiB messages: at least 50% of memcpy. The channel copies \
         each message twice (into the ring, out of it) in aligned 32-bit atomic words, so that a \
         peer writing at the same time can corrupt a message but never cause undefined \
         behaviour; memcpy copies once, in wide accesses.</p>\n",
    );
}

/// The boot-time section.
fn boot_html(html: &mut String, boot: &BootRecord) {
    let times = &boot.times;
    let _ = writeln!(
        html,
        "<h2>Boot times of <code>{}</code></h2>\n<p>From the partitioner's first instruction \
         (counter {}), at {} Hz: when the partitioner enters each cell's first instruction, and \
         when each Linux cell's init reads the counter in user space.</p>\n\
         <table><tr><th>Cell</th><th>Start</th><th>First instruction</th><th>Userspace</th></tr>",
        escape(&boot.config),
        times.partitioner_entry,
        times.counter_hz
    );
    for cell in &times.cells {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&cell.name),
            cell.start,
            times.to_first_instruction(cell),
            times
                .to_userspace(cell)
                .map_or("–".to_string(), |s| s.to_string())
        );
    }
    html.push_str("</table>\n");
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;\
padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;\
padding:.3em .6em;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}\
.provenance td,.provenance th{text-align:left}.statement{background:#fff8e0;border-left:4px solid \
#e0b000;padding:.6em 1em}.verdict{font-weight:bold;padding:.4em 1em}.pass{color:#11702a}\
.fail{color:#b00020}.verdict.pass{background:#e6f6ea}.verdict.fail{background:#fde8ea}\
.verdict.none{background:#eee}svg{font-size:11px}code{font-size:90%;word-break:break-all}";

/// A bound or ratio without needless decimals.
fn number(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Escapes text for HTML, in element content and in quoted attributes
/// alike (`&`, `<`, `>`, `"`, `'`).
pub fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

/// `YYYY-MM-DD hh:mm:ss UTC` of a Unix time.
fn utc_text(seconds: u64) -> String {
    let Some(time) = i64::try_from(seconds)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
    else {
        return format!("{seconds} s after 1970 (UTC)");
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_text(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
        );
    }
}
