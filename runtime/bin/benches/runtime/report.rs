//! The results as Markdown tables (the form `BENCHMARKS.md` shows them in).

use std::fmt::Write;
use std::time::Duration;

use crate::cluster::ClusterTasks;
use crate::latency::{Percentiles, Stages};
use crate::many::ManyTasks;
use crate::processes::Processes;
use crate::through_worker::FilePipeline;
use crate::window::Window;

/// One message size and task count: the best run of each side over the repeats.
pub struct Throughput {
    size: usize,
    tasks: usize,
    converter: String,
    records: usize,
    raw_produce: Option<Window>,
    worker_produce: Option<Window>,
    raw_consume: Option<Window>,
    worker_consume: Option<Window>,
}

/// Keeps the faster of two runs.
fn keep_best(slot: &mut Option<Window>, run: Window) {
    if slot.is_none_or(|best| run.rate() > best.rate()) {
        *slot = Some(run);
    }
}

impl Throughput {
    pub fn new(size: usize, tasks: usize, converter: &str, records: usize) -> Throughput {
        Throughput {
            size,
            tasks,
            converter: converter.to_owned(),
            records,
            raw_produce: None,
            worker_produce: None,
            raw_consume: None,
            worker_consume: None,
        }
    }

    pub fn raw_produce(&mut self, run: Window) {
        keep_best(&mut self.raw_produce, run);
    }

    pub fn worker_produce(&mut self, run: Window) {
        keep_best(&mut self.worker_produce, run);
    }

    pub fn raw_consume(&mut self, run: Window) {
        keep_best(&mut self.raw_consume, run);
    }

    pub fn worker_consume(&mut self, run: Window) {
        keep_best(&mut self.worker_consume, run);
    }

    /// `raw | worker | ratio | worker start-up` cells.
    fn cells(&self, raw: Option<Window>, worker: Option<Window>) -> String {
        let mib = |rate: f64| rate * self.size as f64 / (1 << 20) as f64;
        let cell = |run: Option<Window>| run.map_or("-".to_owned(), |r| format!("{:.0} ({:.1})", r.rate(), mib(r.rate())));
        let ratio = match (raw, worker) {
            (Some(raw), Some(worker)) => format!("**{:.2}**", worker.rate() / raw.rate()),
            _ => "-".to_owned(),
        };
        let startup = worker.map_or("-".to_owned(), |w| format!("{:.0} ms", w.startup().as_secs_f64() * 1000.0));
        let cpu = |run: Option<Window>| run.map_or("-".to_owned(), |r| format!("{:.1}", r.cpu_micros_per_record()));
        format!("{} | {} | {ratio} | {startup} | {} / {}", cell(raw), cell(worker), cpu(raw), cpu(worker))
    }

    /// One progress line.
    pub fn line(&self) -> String {
        format!(
            "{} B x {} task(s), {}, {} records: produce {} | consume {}",
            self.size,
            self.tasks,
            self.converter,
            self.records,
            self.cells(self.raw_produce, self.worker_produce),
            self.cells(self.raw_consume, self.worker_consume)
        )
    }
}

/// Exactly-once against at-least-once sources: datagen-source's produce rate on two workers
/// of the same broker, the best run of each.
pub struct Delivery {
    size: usize,
    tasks: usize,
    records: usize,
    at_least_once: Option<Window>,
    exactly_once: Option<Window>,
}

impl Delivery {
    pub fn new(size: usize, tasks: usize, records: usize) -> Delivery {
        Delivery { size, tasks, records, at_least_once: None, exactly_once: None }
    }

    pub fn at_least_once(&mut self, run: Window) {
        keep_best(&mut self.at_least_once, run);
    }

    pub fn exactly_once(&mut self, run: Window) {
        keep_best(&mut self.exactly_once, run);
    }

    /// `size | tasks | records | at-least-once | exactly-once | ratio`.
    pub fn line(&self) -> String {
        let cell = |run: Option<Window>| run.map_or("-".to_owned(), |r| format!("{:.0}", r.rate()));
        let ratio = match (self.at_least_once, self.exactly_once) {
            (Some(alo), Some(eos)) => format!("**{:.2}**", eos.rate() / alo.rate()),
            _ => "-".to_owned(),
        };
        format!(
            "| {} B | {} | {} | {} | {} | {ratio} |",
            self.size,
            self.tasks,
            self.records,
            cell(self.at_least_once),
            cell(self.exactly_once)
        )
    }
}

/// The latency section: the rate, what it was half of, both paths, and the worker's stages.
pub struct Latency {
    pub rate: u64,
    pub max_rate: f64,
    pub raw: Percentiles,
    pub worker: Percentiles,
    pub stages: Stages,
}

/// Everything one run measured.
pub struct Report {
    full: bool,
    pub throughput: Vec<Throughput>,
    pub delivery: Vec<Delivery>,
    pub latency: Option<Latency>,
    pub file: Option<FilePipeline>,
    pub processes: Option<Processes>,
    pub many: Option<ManyTasks>,
    pub cluster: Option<ClusterTasks>,
}

impl Report {
    pub fn new(full: bool) -> Report {
        Report { full, throughput: Vec::new(), delivery: Vec::new(), latency: None, file: None, processes: None, many: None, cluster: None }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let mode = if self.full { "full run" } else { "smoke run (tiny counts: the figures mean nothing)" };
        let _ = writeln!(out, "<!-- connect-runtime bench, {mode} -->\n");
        if !self.throughput.is_empty() {
            let _ = writeln!(
                out,
                "### Throughput: records/s (MiB/s) once records flow, worker ÷ raw; connector start to first record; CPU of the whole process (broker included) per record, raw / worker\n"
            );
            let _ = writeln!(
                out,
                "| size | tasks | converter | records | raw producer | datagen-source | ratio | start | CPU µs/rec | raw consumer | log-sink | ratio | start | CPU µs/rec |"
            );
            let _ = writeln!(out, "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            for t in &self.throughput {
                let _ = writeln!(
                    out,
                    "| {} B | {} | {} | {} | {} | {} |",
                    t.size,
                    t.tasks,
                    t.converter,
                    t.records,
                    t.cells(t.raw_produce, t.worker_produce),
                    t.cells(t.raw_consume, t.worker_consume)
                );
            }
            out.push('\n');
        }
        if let Some(Latency { rate, max_rate, raw, worker, stages }) = &self.latency {
            let _ = writeln!(
                out,
                "### End-to-end latency, 1 KiB records at {rate} records/s (half the raw pair's end-to-end maximum, {max_rate:.0}/s)\n"
            );
            let _ = writeln!(out, "| path | p50 | p99 | p99.9 | records |\n|---|---:|---:|---:|---:|");
            let ms = |us: u64| format!("{:.2} ms", us as f64 / 1000.0);
            for (path, p) in [("raw producer → raw consumer", raw), ("datagen-source → worker → sink put", worker)] {
                let _ = writeln!(out, "| {path} | {} | {} | {} | {} |", ms(p.p50), ms(p.p99), ms(p.p999), p.count);
            }
            let ratio = |worker: u64, raw: u64| if raw == 0 { "-".to_owned() } else { format!("{:.2}×", worker as f64 / raw as f64) };
            let _ = writeln!(
                out,
                "| worker ÷ raw | {} | {} | {} | |",
                ratio(worker.p50, raw.p50),
                ratio(worker.p99, raw.p99),
                ratio(worker.p999, raw.p999)
            );
            let _ = writeln!(
                out,
                "\nWhere the time goes (a second worker run, a raw consumer reading beside the sink), from the record's timestamp (when it was due at the rate) to:\n"
            );
            let _ = writeln!(out, "| stage | p50 | p99 | p99.9 | records |\n|---|---:|---:|---:|---:|");
            let rows = [
                ("the producer's send (pacing, source poll, converter, waiting for the send in flight)", &stages.born),
                ("the broker's store", &stages.stored),
                ("a raw consumer beside the sink", &stages.observed),
                ("the sink's `put`", &stages.put),
            ];
            for (stage, p) in rows {
                let _ = writeln!(out, "| {stage} | {} | {} | {} | {} |", ms(p.p50), ms(p.p99), ms(p.p999), p.count);
            }
            out.push('\n');
        }
        if let Some(file) = &self.file {
            let mib = |time: Duration| file.bytes as f64 / (1 << 20) as f64 / time.as_secs_f64();
            let _ = writeln!(
                out,
                "### File → RocketMQ → file ({} lines of 100 B, {:.1} MiB)\n",
                file.lines,
                file.bytes as f64 / (1 << 20) as f64
            );
            let _ = writeln!(out, "| path | time | MiB/s | lines/s |\n|---|---:|---:|---:|");
            let paths = [
                ("`cat` (ceiling)", file.cat),
                ("raw producer → RocketMQ → raw consumer writing the file (baseline)", file.raw),
                ("file-source → RocketMQ → file-sink", file.worker),
            ];
            for (path, time) in paths {
                let _ = writeln!(
                    out,
                    "| {path} | {:.3} s | {:.1} | {:.0} |",
                    time.as_secs_f64(),
                    mib(time),
                    file.lines as f64 / time.as_secs_f64()
                );
            }
            let _ = writeln!(out, "\nworker ÷ raw baseline: {:.2}\n", file.raw.as_secs_f64() / file.worker.as_secs_f64());
        }
        if !self.delivery.is_empty() {
            let _ =
                writeln!(out, "### Exactly-once sources: datagen-source records/s, at-least-once and exactly-once workers on one broker\n");
            let _ = writeln!(out, "| size | tasks | records | at-least-once | exactly-once | ratio |\n|---:|---:|---:|---:|---:|---:|");
            for row in &self.delivery {
                let _ = writeln!(out, "{}", row.line());
            }
            out.push('\n');
        }
        if let Some(p) = &self.processes {
            let mb = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
            let _ = writeln!(out, "### The worker process\n");
            let _ = writeln!(out, "| measurement | value |\n|---|---:|");
            let _ = writeln!(out, "| start-up to REST ready, external broker | {:.0} ms |", p.startup_external.as_secs_f64() * 1000.0);
            let _ = writeln!(
                out,
                "| start-up to REST ready, embedded name server + broker | {:.0} ms |",
                p.startup_embedded.as_secs_f64() * 1000.0
            );
            let _ = writeln!(out, "| resident memory, idle, embedded broker included | {} |", mb(p.rss_embedded_idle));
            let _ = writeln!(out, "| resident memory, idle, external broker | {} |", mb(p.rss_idle));
            for (tasks, rss) in &p.rss_with_tasks {
                let _ = writeln!(out, "| resident memory, {tasks} task(s), external broker | {} |", mb(*rss));
            }
            out.push('\n');
        }
        if let Some(m) = &self.many {
            let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
            let _ = writeln!(
                out,
                "### Many slow tasks: {} datagen connectors × {} tasks at 1 record/s, one worker process\n",
                m.connectors,
                m.tasks / m.connectors.max(1)
            );
            let _ = writeln!(out, "| measurement | value |\n|---|---:|");
            let _ = writeln!(out, "| first create to all {} tasks RUNNING | {:.1} s |", m.tasks, m.all_running.as_secs_f64());
            let _ = writeln!(
                out,
                "| CPU of the worker process (one core = 100 %), over {:.0} s | {:.1} % |",
                m.window.as_secs_f64(),
                m.cpu * 100.0
            );
            let _ = writeln!(
                out,
                "| CPU of the raw client sending the same messages (a tokio task per source task) | {:.1} % |",
                m.raw_cpu * 100.0
            );
            let _ = writeln!(out, "| worker ÷ raw | {:.2} |", m.cpu / m.raw_cpu.max(f64::EPSILON));
            let _ = writeln!(out, "| records acknowledged over the window (expected ≈ tasks × seconds) | {} |", m.records);
            let _ = writeln!(out, "| resident memory | {:.1} MiB |", m.rss_kib as f64 / 1024.0);
            let _ = writeln!(out, "| `GET /connectors?expand=status` p50 / p99 | {} / {} |", ms(m.status_p50), ms(m.status_p99));
            let _ = writeln!(out, "| tasks FAILED | {} |", m.failed_tasks);
            let _ = writeln!(out, "| WARN / ERROR lines logged | {} / {} |", m.warnings, m.errors);
            for (count, message) in &m.frequent {
                let _ = writeln!(out, "| {count}× | `{}` |", message.replace('|', "\\|").replace('`', "'"));
            }
        }
        if let Some(c) = &self.cluster {
            let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
            let _ = writeln!(
                out,
                "\n### Many slow tasks on a cluster: {} workers, {} datagen connectors × {} tasks at 1 record/s\n",
                c.workers,
                c.connectors,
                c.tasks / c.connectors.max(1)
            );
            let _ = writeln!(out, "| measurement | value |\n|---|---:|");
            let _ = writeln!(
                out,
                "| first create to all {} tasks RUNNING (placement settled) | {:.1} s |",
                c.tasks,
                c.all_running.as_secs_f64()
            );
            for (i, (cpu, rss, tasks)) in c.per_worker.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "| worker {i}: CPU over {:.0} s / resident memory / tasks | {:.1} % / {:.1} MiB / {tasks} |",
                    c.window.as_secs_f64(),
                    cpu * 100.0,
                    *rss as f64 / 1024.0
                );
            }
            let _ = writeln!(out, "| `GET /connectors?expand=status` p50 / p99 | {} / {} |", ms(c.status_p50), ms(c.status_p99));
            let _ = writeln!(
                out,
                "| a worker joins: settled after / tasks moved / tasks it runs | {:.1} s / {} / {} |",
                c.join.0.as_secs_f64(),
                c.join.1,
                c.join.2
            );
            let _ = writeln!(
                out,
                "| a worker is killed: all running again after / tasks moved | {:.1} s / {} |",
                c.leave.0.as_secs_f64(),
                c.leave.1
            );
            let _ = writeln!(out, "| running tasks stopped or moved while a connector is created | {} |", c.stopped_on_create);
            let _ = writeln!(out, "| running tasks stopped or moved while a connector is deleted | {} |", c.stopped_on_delete);
        }
        out
    }
}
