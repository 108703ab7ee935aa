//! The cluster at scale, simulated: `N` herders on shared in-memory logs with tokio's paused
//! clock and the fake launcher, through a start, a worker joining, a worker leaving and a
//! connector created. What each step costs: simulated time until the cluster is quiet again,
//! reconcile passes, units moved, status records written, and running units restarted.
//!
//! The suite runs it at a small size with the bounds asserted; `BENCHMARKS.md` has the table
//! for 10, 100 and 1,000 workers and up to 100,000 units, made by the ignored test at the end
//! (`<workers>x<connectors>`, each connector 1 + 4 units):
//!
//! ```sh
//! CONNECT_SIMULATE=10x200,100x2000,1000x2000,100x20000 cargo test --release -p connect-runtime --lib -- \
//!     --ignored --nocapture simulated_cluster_table
//! ```

use std::collections::BTreeMap;

use super::*;

/// How long the status log must stay unchanged (with every unit running once) for the cluster
/// to count as quiet.
const QUIET: Duration = Duration::from_secs(5);

/// What one step cost.
#[derive(Debug)]
struct Step {
    /// Simulated time from the step to the last status record it caused.
    converge: Duration,
    /// Reconcile passes, summed over the workers.
    passes: u64,
    /// Units whose owner changed.
    moved: usize,
    /// Status records written.
    records: u64,
    /// Units running before the step that were stopped and started again (not moved).
    restarted: usize,
}

/// A simulated cluster: its shared logs and its workers.
struct Simulation {
    cluster: Cluster,
    workers: Vec<Arc<Herder<FakeLauncher>>>,
    ids: Vec<String>,
    units: usize,
}

impl Simulation {
    /// `workers` workers and `connectors` connectors (each with `TASKS` tasks), started.
    async fn start(workers: usize, connectors: usize) -> (Simulation, Step) {
        let ids: Vec<String> = (0..workers).map(|i| format!("w{i:04}")).collect();
        let cluster = Cluster::new(&ids.iter().map(String::as_str).collect::<Vec<_>>());
        for c in 0..connectors {
            cluster.create(&format!("c{c:05}")).await;
        }
        let mut sim = Simulation { cluster, workers: Vec::new(), ids: Vec::new(), units: connectors * (1 + TASKS) };
        let step = sim
            .step(async |sim: &mut Simulation| {
                for id in &ids {
                    sim.workers.push(sim.cluster.worker(id).await);
                    sim.ids.push(id.clone());
                }
            })
            .await;
        (sim, step)
    }

    /// Runs `change`, then waits until the cluster is quiet, and says what it cost.
    async fn step(&mut self, change: impl AsyncFnOnce(&mut Simulation)) -> Step {
        let owners = self.cluster.statuses.current().owners.clone();
        let opens = self.opens();
        let records = self.cluster.statuses.log().next();
        let passes = self.passes();
        let started = Instant::now();
        change(self).await;
        let converged = self.quiet(started).await;
        let after = self.cluster.statuses.current().owners.clone();
        let moved = owners.iter().filter(|(unit, owner)| after.get(*unit) != Some(*owner)).count();
        let restarted = self
            .opens()
            .iter()
            .filter(|(unit, count)| owners.get(*unit).is_some_and(|o| after.get(*unit) == Some(o)) && opens.get(*unit) != Some(count))
            .count();
        Step {
            converge: converged - started,
            passes: self.passes() - passes,
            moved,
            records: self.cluster.statuses.log().next() - records,
            restarted,
        }
    }

    /// When the status log last changed, once every unit runs on exactly one worker and the
    /// log stayed unchanged for [`QUIET`]. Panics after ten simulated minutes.
    async fn quiet(&self, since: Instant) -> Instant {
        let (mut seen, mut changed) = (self.cluster.statuses.log().next(), since);
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.cluster.statuses.log().next();
            if now != seen {
                (seen, changed) = (now, Instant::now());
            } else if changed.elapsed() >= QUIET && self.running() == self.units {
                return changed;
            }
            assert!(
                since.elapsed() < Duration::from_secs(600),
                "not quiet after 10 minutes: {} of {} units run",
                self.running(),
                self.units
            );
        }
    }

    /// Units running, counted once however many workers run them.
    fn running(&self) -> usize {
        self.cluster.launcher.running.lock().unwrap_or_else(PoisonError::into_inner).len()
            + self.cluster.statuses.current().owners.clone().keys().filter(|u| u.is_connector()).count()
    }

    fn passes(&self) -> u64 {
        self.workers.iter().map(|w| w.pass_count()).sum()
    }

    fn opens(&self) -> BTreeMap<Unit, u32> {
        self.cluster.launcher.opens.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// A worker joins.
    async fn join(&mut self) -> Step {
        self.step(async |sim: &mut Simulation| {
            let id = format!("w{:04}", sim.ids.len());
            sim.ids.push(id.clone());
            sim.cluster.set_members(&sim.ids.iter().map(String::as_str).collect::<Vec<_>>());
            sim.workers.push(sim.cluster.worker(&id).await);
        })
        .await
    }

    /// The first worker dies (without releasing anything); returns the step and the units it held.
    async fn leave(&mut self) -> (Step, usize) {
        let gone = self.ids[0].clone();
        let held = self.cluster.statuses.current().owners.clone().values().filter(|o| **o == gone).count();
        let step = self
            .step(async |sim: &mut Simulation| {
                let herder = sim.workers.remove(0);
                sim.ids.remove(0);
                kill(&herder).await;
                sim.cluster.set_members(&sim.ids.iter().map(String::as_str).collect::<Vec<_>>());
            })
            .await;
        (step, held)
    }

    /// A connector is created.
    async fn create(&mut self) -> Step {
        self.units += 1 + TASKS;
        self.step(async |sim: &mut Simulation| sim.cluster.create("created").await).await
    }
}

/// One row: a cluster started, joined, left and given a connector.
async fn simulate(workers: usize, connectors: usize) -> String {
    let (mut sim, start) = Simulation::start(workers, connectors).await;
    let units = sim.units;
    let join = sim.join().await;
    let share = units.div_ceil(workers + 1);
    assert!(join.moved <= share + 2, "a joining worker moved {} units, its share is {share}: {join:?}", join.moved);
    let (leave, held) = sim.leave().await;
    assert!(leave.moved <= held + units.div_ceil(workers) + 2, "a leaving worker that held {held} moved {}: {leave:?}", leave.moved);
    let create = sim.create().await;
    for step in [&join, &leave, &create] {
        assert_eq!(step.restarted, 0, "running units were restarted: {step:?}");
    }
    assert_eq!(sim.cluster.ran_twice(), Vec::<Unit>::new(), "a unit ran on two workers at once");
    let row = |name: &str, s: &Step| {
        format!("| {name} | {:.1} s | {} | {} | {} | {} |", s.converge.as_secs_f64(), s.passes, s.moved, s.records, s.restarted)
    };
    let mut out = format!("\n{workers} workers, {units} units ({connectors} connectors × (1 + {TASKS} tasks)); the leaver held {held}\n\n");
    out += "| step | converged after (simulated) | passes | units moved | status records | running units restarted |\n|---|---:|---:|---:|---:|---:|\n";
    for (name, step) in [("start", &start), ("a worker joins", &join), ("a worker leaves", &leave), ("a connector is created", &create)] {
        out += &row(name, step);
        out.push('\n');
    }
    for worker in &sim.workers {
        worker.stop().await;
    }
    out
}

#[tokio::test(start_paused = true)]
async fn ten_simulated_workers_move_only_their_share_and_restart_nothing_on_join_leave_and_create() {
    let table = simulate(10, 60).await;
    println!("{table}");
}

#[tokio::test(start_paused = true)]
#[ignore = "makes the BENCHMARKS.md table: set CONNECT_SIMULATE=<workers>x<connectors>,..., run with --release"]
async fn simulated_cluster_table() {
    let sizes = std::env::var("CONNECT_SIMULATE").unwrap_or_else(|_| "10x200".to_owned());
    for size in sizes.split(',') {
        let (workers, connectors) = size.split_once('x').expect("<workers>x<connectors>");
        let wall = std::time::Instant::now();
        let table = simulate(workers.parse().expect("a worker count"), connectors.parse().expect("a connector count")).await;
        println!("{table}(simulated in {:.1} s of wall time)", wall.elapsed().as_secs_f64());
    }
}
