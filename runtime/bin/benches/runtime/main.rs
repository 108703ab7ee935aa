//! The worker measured against the raw RocketMQ client, on one embedded broker, in one run.
//!
//! `cargo bench -p connect-worker --bench runtime` runs every measurement of `BENCHMARKS.md`
//! and prints its tables (`-- --out FILE` also writes them to FILE, `-- --only produce,consume`
//! picks sections: produce, consume, latency, file, eos, process, many, cluster; `--many 200x5` sizes the
//! many-slow-tasks run, `--cluster 5x200x5` (workers × connectors × tasks) its cluster run; `--sizes 100,1024`, `--tasks 1,4`,
//! `--repeats N`, `--records N` and `--converters string,json` narrow the throughput runs; `--namesrv HOST:PORT` measures
//! on a broker of another process instead of an embedded one, as under valgrind, whose
//! emulation the broker's storage does not start on).
//! `cargo test -p connect-worker --bench runtime` (part of `cargo test --workspace`) runs each
//! measurement once on a few records: a smoke test that the benchmark still works.

mod cluster;
mod latency;
mod many;
mod processes;
mod raw;
mod report;
use connect_testkit as support;
mod through_worker;
mod window;

use std::path::PathBuf;
use std::time::Duration;

// The plugins the in-process worker runs (linked, so that their registrations are kept).
use connect_datagen as _;
use connect_file as _;
use connect_runtime::Worker;
use connect_runtime::embedded::{EmbeddedConfig, EmbeddedRocketMq};
use report::{Report, Throughput};

/// What one run measures, and how much.
struct Plan {
    /// `false` in smoke mode.
    full: bool,
    sizes: Vec<usize>,
    task_counts: Vec<usize>,
    /// Bytes each throughput run moves (the record count follows from the size).
    bytes_per_run: usize,
    min_records: usize,
    max_records: usize,
    /// Each throughput pair is run this many times; the best run of each side is reported.
    repeats: usize,
    /// Records per throughput run and per warm-up, whatever the size (`--records`).
    records: Option<usize>,
    /// `string`: every size and task count with the string converter; `json`: one run with
    /// the JSON converter.
    converters: Vec<String>,
    latency_duration: Duration,
    file_lines: usize,
    process_task_counts: Vec<usize>,
    /// Connectors and tasks per connector of the many-slow-tasks run (`--many CxT`), and its window.
    many: (usize, usize),
    many_window: Duration,
    /// Workers, connectors and tasks per connector of the cluster run (`--cluster WxCxT`).
    cluster: (usize, usize, usize),
    sections: Vec<String>,
    out: Option<PathBuf>,
    /// A running name server to measure on instead of an embedded broker.
    namesrv: Option<String>,
}

impl Plan {
    fn from_args() -> Plan {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let full = args.iter().any(|a| a == "--bench");
        let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
        let sections = value("--only")
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_else(|| ["produce", "consume", "latency", "file", "eos", "process", "many", "cluster"].map(str::to_owned).to_vec());
        let out = value("--out").map(PathBuf::from);
        let namesrv = value("--namesrv");
        let list = |flag: &str| value(flag).map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect::<Vec<usize>>());
        let mut plan = if full {
            Plan {
                full,
                sizes: vec![100, 1024, 10 * 1024],
                task_counts: vec![1, 4],
                bytes_per_run: 96 << 20,
                min_records: 10_000,
                max_records: 200_000,
                repeats: 3,
                records: None,
                converters: vec!["string".to_owned(), "json".to_owned()],
                latency_duration: Duration::from_secs(10),
                file_lines: 300_000,
                process_task_counts: vec![1, 10, 100],
                many: (200, 5),
                many_window: Duration::from_secs(60),
                cluster: (5, 200, 5),
                sections,
                out,
                namesrv,
            }
        } else {
            Plan {
                full,
                sizes: vec![100],
                task_counts: vec![1, 4],
                bytes_per_run: 0,
                min_records: 2_000,
                max_records: 2_000,
                repeats: 1,
                records: None,
                converters: vec!["string".to_owned(), "json".to_owned()],
                latency_duration: Duration::from_secs(2),
                file_lines: 2_000,
                process_task_counts: vec![1, 10],
                many: (3, 2),
                many_window: Duration::from_secs(2),
                cluster: (2, 2, 2),
                sections,
                out,
                namesrv,
            }
        };
        plan.sizes = list("--sizes").unwrap_or(plan.sizes);
        plan.task_counts = list("--tasks").unwrap_or(plan.task_counts);
        plan.repeats = list("--repeats").and_then(|r| r.first().copied()).unwrap_or(plan.repeats);
        plan.records = list("--records").and_then(|r| r.first().copied());
        if let Some((connectors, tasks)) = value("--many").as_deref().and_then(|m| m.split_once('x')) {
            plan.many = (connectors.parse().unwrap_or(plan.many.0), tasks.parse().unwrap_or(plan.many.1));
        }
        if let Some(sizes) = value("--cluster") {
            let sizes: Vec<usize> = sizes.split('x').filter_map(|n| n.parse().ok()).collect();
            if let [workers, connectors, tasks] = sizes[..] {
                plan.cluster = (workers.max(2), connectors, tasks);
            }
        }
        if let Some(converters) = value("--converters") {
            plan.converters = converters.split(',').map(str::to_owned).collect();
        }
        plan
    }

    fn records(&self, size: usize, tasks: usize) -> usize {
        let count = self.records.unwrap_or_else(|| (self.bytes_per_run / size).clamp(self.min_records, self.max_records));
        count / tasks * tasks
    }

    fn wants(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }

    fn wants_converter(&self, converter: &str) -> bool {
        self.converters.iter().any(|c| c == converter)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == many::RAW_FLAG) {
        // The raw baseline of the many-slow-tasks run, as a process of its own.
        let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned().unwrap_or_default();
        let senders = args.get(at + 1).and_then(|n| n.parse().ok()).unwrap_or(1);
        return many::raw_senders(&value("--namesrv"), &value("--prefix"), senders).await;
    }
    let plan = Plan::from_args();
    let dir = support::temp_dir("bench");
    let (broker, namesrv) = match plan.namesrv.clone() {
        Some(namesrv) => (None, namesrv),
        None => {
            let broker = EmbeddedRocketMq::start(&EmbeddedConfig::free_ports(dir.join("rocketmq"))).await?;
            let namesrv = broker.namesrv_addr().to_owned();
            (Some(broker), namesrv)
        }
    };
    let raw = raw::RawClient::new(&namesrv).await?;
    // The file pipeline's files are in the run's directory, beside the worker's.
    let files = connect_runtime::AllowedPaths::under(std::slice::from_ref(&dir))?;
    let worker =
        Worker::builder().standalone(dir.join("worker")).namesrv(&namesrv).worker_id("bench:1").allowed_paths(files).build().await?;
    let mut report = Report::new(plan.full);

    if plan.wants("produce") || plan.wants("consume") || plan.wants("latency") {
        let mut runs: Vec<(usize, usize, &str)> = Vec::new();
        if plan.wants_converter("string") {
            for &size in &plan.sizes {
                for &tasks in &plan.task_counts {
                    runs.push((size, tasks, "string"));
                }
            }
        }
        if plan.wants_converter("json") {
            // The default converter (JSON with a schema envelope), to show what it costs.
            runs.push((if plan.sizes.contains(&1024) { 1024 } else { plan.sizes[0] }, 1, "json"));
        }
        // A warm-up pass of each side (not reported): the first run after start-up is slower.
        let warm = plan.records(1024, 1).min(20_000);
        raw.produce("bench-warmup-raw", warm, 1024, 1).await?;
        through_worker::produce(&worker, "bench-warmup", warm, 1024, 1, "string").await?;
        raw.consume("bench-warmup", warm, 1).await?;
        through_worker::consume(&worker, "bench-warmup", warm, 1, "string").await?;
        for (size, tasks, converter) in runs {
            let records = plan.records(size, tasks);
            let mut best = Throughput::new(size, tasks, converter, records);
            for repeat in 0..plan.repeats {
                let id = format!("{size}-{tasks}-{converter}-{repeat}");
                let topic = format!("bench-{id}");
                let raw_topic = format!("bench-raw-{id}");
                // Alternate which side goes first, so neither always meets a warmer broker.
                let worker_first = repeat % 2 == 1;
                if worker_first {
                    best.worker_produce(through_worker::produce(&worker, &topic, records, size, tasks, converter).await?);
                }
                best.raw_produce(raw.produce(&raw_topic, records, size, tasks).await?);
                if !worker_first {
                    best.worker_produce(through_worker::produce(&worker, &topic, records, size, tasks, converter).await?);
                }
                if plan.wants("consume") {
                    if worker_first {
                        best.worker_consume(through_worker::consume(&worker, &topic, records, tasks, converter).await?);
                    }
                    best.raw_consume(raw.consume(&topic, records, tasks).await?);
                    if !worker_first {
                        best.worker_consume(through_worker::consume(&worker, &topic, records, tasks, converter).await?);
                    }
                }
            }
            println!("{}", best.line());
            report.throughput.push(best);
        }
    }

    if plan.wants("latency") {
        // Half the raw pair's end-to-end maximum, producer and consumer running at once (the
        // produce maximum alone put the worker's pipeline past saturation).
        let max_rate = latency::raw_end_to_end_max(&raw, plan.records(1024, 1)).await?;
        println!("raw end-to-end maximum: {max_rate:.0} records/s");
        let rate = (max_rate / 2.0).max(100.0) as u64;
        let raw_latency = latency::raw(&raw, rate, plan.latency_duration).await?;
        println!("raw latency at {rate}/s: {raw_latency}");
        let worker_latency = latency::through_worker(&worker, rate, plan.latency_duration).await?;
        println!("worker latency at {rate}/s: {worker_latency}");
        // Again with a raw consumer beside the sink: where the time goes.
        let stages = latency::stages(&worker, &raw, rate, plan.latency_duration).await?;
        println!("worker stages at {rate}/s: {stages:?}");
        report.latency = Some(report::Latency { rate, max_rate, raw: raw_latency, worker: worker_latency, stages });
    }

    if plan.wants("file") {
        let pipeline = through_worker::file_pipeline(&worker, &raw, &dir.join("file"), plan.file_lines).await?;
        println!("{pipeline:?}");
        report.file = Some(pipeline);
    }

    if plan.wants("eos") {
        // The same worker settings but at-least-once sources, on the same broker.
        let settings = connect_runtime::RunnerSettings { exactly_once_source: false, ..Default::default() };
        let at_least_once =
            Worker::builder().standalone(dir.join("worker-alo")).namesrv(&namesrv).worker_id("bench:2").settings(settings).build().await?;
        for &size in &plan.sizes {
            for &tasks in &plan.task_counts {
                let records = plan.records(size, tasks);
                let mut row = report::Delivery::new(size, tasks, records);
                for repeat in 0..plan.repeats {
                    let id = format!("{size}-{tasks}-{repeat}");
                    let exactly =
                        async { through_worker::produce(&worker, &format!("bench-eos-{id}"), records, size, tasks, "string").await };
                    let at_least =
                        async { through_worker::produce(&at_least_once, &format!("bench-alo-{id}"), records, size, tasks, "string").await };
                    if repeat % 2 == 0 {
                        row.exactly_once(exactly.await?);
                        row.at_least_once(at_least.await?);
                    } else {
                        row.at_least_once(at_least.await?);
                        row.exactly_once(exactly.await?);
                    }
                }
                println!("{}", row.line());
                report.delivery.push(row);
            }
        }
        at_least_once.shutdown().await;
    }

    worker.shutdown().await;
    raw.shutdown().await;

    if plan.wants("process") {
        report.processes = Some(processes::measure(&namesrv, &dir.join("processes"), &plan.process_task_counts).await?);
    }
    if plan.wants("many") {
        let (connectors, tasks) = plan.many;
        let many = many::measure(&namesrv, &dir.join("many"), connectors, tasks, plan.many_window).await?;
        println!("{many:?}");
        report.many = Some(many);
    }
    if plan.wants("cluster") {
        let (workers, connectors, tasks) = plan.cluster;
        let measured = cluster::measure(&namesrv, &dir.join("cluster"), workers, connectors, tasks, plan.many_window).await?;
        println!("{measured:?}");
        report.cluster = Some(measured);
    }
    if let Some(broker) = broker {
        broker.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);

    let text = report.render();
    println!("\n{text}");
    if let Some(out) = &plan.out {
        std::fs::write(out, &text)?;
    }
    Ok(())
}
