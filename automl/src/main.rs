//! The `automl` command: a thin layer over the `automl` library.
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use automl::artifact::{write_predictions, ModelArtifact};
use automl::core::data::{read_csv, CsvOptions};
use automl::core::learners::all_learners;
use automl::core::profile::profile;
use automl::core::task::TaskChoice;
use automl::core::validation::ValidationPlan;
use automl::search::Sampler;
use automl::trial::TrialResult;
use automl::plugins::{PluginHost, SandboxConfig};
use automl::{report, ExecutorChoice, Experiment, ExperimentConfig, Observer};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

/// AutoML for tabular data: profile a CSV, search learners and hyperparameters under a
/// budget, save the best model, predict with it.
#[derive(Parser, Debug)]
#[command(name = "automl", version, propagate_version = true, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 success; 1 unexpected error (e.g. cannot write output); 2 invalid arguments or settings; 3 unusable data (missing file, malformed CSV, bad column); 4 model file not ours, damaged or of another version; 5 no trial succeeded; 6 a plugin could not be loaded or failed outside a trial; 7 the Kubernetes cluster could not be reached or refused a request.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Search for the best model for a CSV and save it (DIR/model.automl, leaderboard.csv, profile.json).
    Run(RunArgs),
    /// Predict with a saved model: one row of output per input row, in input order.
    Predict(PredictArgs),
    /// Profile a CSV: column kinds, missing values, and data problems.
    Profile(ProfileArgs),
    /// Inspect WebAssembly plugins and list the built-in rules.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Continue an experiment that stopped (crash, kill, lost controller) from its output folder's journal.
    Resume(ResumeArgs),
    /// Run one trial and report it (what a Kubernetes trial pod runs). The trial comes as JSON in $AUTOML_TRIAL or --spec; scores are printed as name=value lines and the result is written to $AUTOML_TERMINATION_MESSAGE_PATH [default: /dev/termination-log].
    Trial(TrialArgs),
}

#[derive(Args, Debug)]
struct ResumeArgs {
    /// The run's output folder (holding journal.jsonl).
    dir: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// No progress display.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Args, Debug)]
struct TrialArgs {
    /// Trial spec as a JSON file [default: the JSON in $AUTOML_TRIAL].
    #[arg(long)]
    spec: Option<PathBuf>,
}

/// Where trials run when `--executor kubernetes` is given. Each trial is a batch/v1 Job.
#[derive(Args, Debug, Clone)]
struct KubeArgs {
    /// Where trials run: local (threads here) or kubernetes (one Job per trial on the cluster of $KUBECONFIG, ~/.kube/config or the pod's ServiceAccount).
    #[arg(long, default_value = "local", help_heading = "Kubernetes")]
    executor: ExecutorKind,
    /// Namespace for trial Jobs [default: the kubeconfig's].
    #[arg(long, help_heading = "Kubernetes")]
    namespace: Option<String>,
    /// Trial image holding the automl binary (built from the repository's Dockerfile).
    #[arg(long, default_value = automl::kubernetes::DEFAULT_IMAGE, help_heading = "Kubernetes")]
    image: String,
    /// imagePullPolicy of trial pods (Always, IfNotPresent, Never).
    #[arg(long, help_heading = "Kubernetes")]
    image_pull_policy: Option<String>,
    /// GPUs per trial (a limit on --gpu-resource).
    #[arg(long, default_value_t = 0, help_heading = "Kubernetes")]
    gpus: u32,
    /// Extended resource name for GPUs.
    #[arg(long, default_value = "nvidia.com/gpu", help_heading = "Kubernetes")]
    gpu_resource: String,
    /// CPU request and limit per trial (e.g. 2 or 500m).
    #[arg(long, help_heading = "Kubernetes")]
    cpu: Option<String>,
    /// Memory request and limit per trial (e.g. 4Gi).
    #[arg(long, help_heading = "Kubernetes")]
    memory: Option<String>,
    /// Node selector label KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE", help_heading = "Kubernetes")]
    node_selector: Vec<String>,
    /// Toleration KEY[=VALUE][:EFFECT] (repeatable), e.g. nvidia.com/gpu:NoSchedule.
    #[arg(long, value_name = "KEY[=VALUE][:EFFECT]", help_heading = "Kubernetes")]
    toleration: Vec<automl::kubernetes::Toleration>,
    /// priorityClassName of trial pods.
    #[arg(long, help_heading = "Kubernetes")]
    priority_class: Option<String>,
    /// ServiceAccount of trial pods.
    #[arg(long, help_heading = "Kubernetes")]
    service_account: Option<String>,
    /// Pod retries before a trial fails (backoffLimit).
    #[arg(long, default_value_t = 0, help_heading = "Kubernetes")]
    backoff_limit: i32,
    /// Seconds finished Jobs are kept (ttlSecondsAfterFinished).
    #[arg(long, default_value_t = 3600, help_heading = "Kubernetes")]
    job_ttl: i32,
    /// Seconds added to a trial's time limit for scheduling and image pulls.
    #[arg(long, default_value_t = 120, help_heading = "Kubernetes")]
    startup_allowance: u64,
    /// A trial whose pod stays unschedulable this many seconds fails.
    #[arg(long, default_value_t = 300, help_heading = "Kubernetes")]
    unschedulable_timeout: u64,
    /// Trial pods read the data from this PersistentVolumeClaim, mounted read-only: CLAIM[:MOUNT_PATH] (mount path default /data).
    #[arg(long, value_name = "CLAIM[:MOUNT]", help_heading = "Kubernetes", conflicts_with = "data_url")]
    data_pvc: Option<String>,
    /// Path of the CSV inside the PVC [default: the data file's name].
    #[arg(long, value_name = "PATH", help_heading = "Kubernetes", requires = "data_pvc")]
    data_path: Option<String>,
    /// Trial pods download the data from this http(s) URL (checked against the local file's SHA-256).
    #[arg(long, value_name = "URL", help_heading = "Kubernetes")]
    data_url: Option<String>,
    /// On Ctrl-C or the end of the budget, leave the experiment's running Jobs in place.
    #[arg(long, help_heading = "Kubernetes")]
    keep_jobs: bool,
    /// Print the Job manifests of the first trials as YAML and create nothing.
    #[arg(long, help_heading = "Kubernetes")]
    dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExecutorKind {
    Local,
    Kubernetes,
}

impl KubeArgs {
    fn config(&self, data: &std::path::Path) -> anyhow::Result<Option<automl::kubernetes::KubernetesConfig>> {
        use automl::kubernetes::{DataSource, KubernetesConfig};
        if self.executor == ExecutorKind::Local {
            if self.dry_run {
                return Err(automl::Error::Config("--dry-run shows the Kubernetes Jobs of a run: add --executor kubernetes".into()).into());
            }
            return Ok(None);
        }
        let node_selector = automl::kubernetes::parse_node_selector(&self.node_selector).map_err(|m| automl::Error::Config(format!("--node-selector: {m}")))?;
        let data = DataSource::from_options(self.data_pvc.as_deref(), self.data_path.as_deref(), self.data_url.as_deref(), data)
            .map_err(|m| automl::Error::Config(format!("{m} (--data-pvc, --data-path, --data-url)")))?;
        Ok(Some(KubernetesConfig {
            namespace: self.namespace.clone(),
            image: self.image.clone(),
            image_pull_policy: self.image_pull_policy.clone(),
            gpus: self.gpus,
            gpu_resource: self.gpu_resource.clone(),
            cpu: self.cpu.clone(),
            memory: self.memory.clone(),
            node_selector,
            tolerations: self.toleration.clone(),
            priority_class: self.priority_class.clone(),
            service_account: self.service_account.clone(),
            backoff_limit: self.backoff_limit,
            ttl_after_finished_s: self.job_ttl,
            startup_allowance_s: self.startup_allowance,
            unschedulable_timeout_s: self.unschedulable_timeout,
            data,
            keep_jobs: self.keep_jobs,
            // Tests point this at a local binary; images run `automl`.
            command: std::env::var("AUTOML_TRIAL_COMMAND").map_or_else(|_| vec!["automl".to_string()], |c| c.split_whitespace().map(String::from).collect()),
        }))
    }
}

#[derive(Subcommand, Debug)]
enum PluginCommand {
    /// Load a plugin and show its kind, name, version, exports and digest.
    Inspect {
        /// The plugin component (.wasm).
        path: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// List the built-in metrics and rules, and the plugins in a folder.
    List {
        /// Folder of plugin components (.wasm) to list [default: $AUTOML_PLUGIN_DIR].
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What plugins may use. By default nothing: no files, network, environment or clock.
#[derive(Args, Debug, Clone)]
struct SandboxArgs {
    /// Memory cap per plugin instance, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    plugin_memory: usize,
    /// Longest a single plugin call may run, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    plugin_timeout: f64,
    /// Let plugins read this directory (repeatable).
    #[arg(long, value_name = "DIR")]
    plugin_allow_dir: Vec<PathBuf>,
    /// Let plugins open network connections.
    #[arg(long)]
    plugin_allow_network: bool,
    /// Pass this environment variable to plugins (repeatable).
    #[arg(long, value_name = "NAME")]
    plugin_allow_env: Vec<String>,
    /// Give plugins the real clocks (otherwise they read zero).
    #[arg(long)]
    plugin_allow_clock: bool,
    /// Compile plugins every time instead of caching the compiled code (in $AUTOML_CACHE_DIR or ~/.cache/automl).
    #[arg(long)]
    plugin_no_cache: bool,
}

impl SandboxArgs {
    fn config(&self) -> anyhow::Result<SandboxConfig> {
        if !(self.plugin_timeout > 0.0 && self.plugin_timeout.is_finite()) {
            return Err(automl::Error::Config(format!("--plugin-timeout must be a positive number of seconds, got {}", self.plugin_timeout)).into());
        }
        if self.plugin_memory == 0 {
            return Err(automl::Error::Config("--plugin-memory must be at least 1 MiB".into()).into());
        }
        let mut c = SandboxConfig { memory_limit: self.plugin_memory << 20, call_timeout: Duration::from_secs_f64(self.plugin_timeout), ..SandboxConfig::default() };
        c.read_dirs = self.plugin_allow_dir.clone();
        c.network = self.plugin_allow_network;
        c.clock = self.plugin_allow_clock;
        c.env = self.plugin_allow_env.iter().filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v))).collect();
        if self.plugin_no_cache {
            c.cache_dir = None;
        }
        Ok(c)
    }
}

#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// Training data (CSV with a header row).
    #[arg(required_unless_present = "spec")]
    data: Option<PathBuf>,
    /// Column to predict.
    #[arg(long, short = 't', required_unless_present = "spec")]
    target: Option<String>,
    /// Tune your own training image instead: an experiment spec (YAML) with the image, command and args with ${name} placeholders, the search space and the objective; trials run as Kubernetes Jobs (see examples/kubernetes/).
    #[arg(long, value_name = "FILE.yaml", conflicts_with_all = ["data", "target"])]
    spec: Option<PathBuf>,
    /// Task: auto (inferred from the target), binary, multiclass or regression.
    #[arg(long, default_value = "auto")]
    task: TaskChoice,
    /// Objective metric [default: log_loss for classification, r2 for regression].
    #[arg(long)]
    metric: Option<String>,
    /// Time budget in seconds for the whole run, refit included (0 = no time limit).
    #[arg(long, default_value_t = 60.0)]
    time_budget: f64,
    /// Stop after this many trials.
    #[arg(long)]
    max_trials: Option<usize>,
    /// Stop as soon as a trial reaches this validation score.
    #[arg(long)]
    target_score: Option<f64>,
    /// Stop after this many trials without improvement.
    #[arg(long)]
    patience: Option<usize>,
    /// Validate with K-fold cross-validation (stratified for classification).
    #[arg(long, value_name = "K", conflicts_with = "holdout")]
    cv: Option<usize>,
    /// Validate on a held-out FRACTION of the rows [default: 5-fold CV under 10,000 rows, else 0.2 holdout].
    #[arg(long, value_name = "FRACTION")]
    holdout: Option<f64>,
    /// Trials run in parallel, one thread each [default: number of cores].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Comma-separated learners to search (see the list below) [default: all that fit the task].
    #[arg(long, value_delimiter = ',')]
    learners: Option<Vec<String>>,
    /// Seed for splits, search and learners.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Comma-separated strings read as missing values besides empty fields (e.g. NA,None).
    #[arg(long, value_delimiter = ',')]
    na_values: Vec<String>,
    /// Output folder.
    #[arg(long, default_value = "automl-out")]
    out: PathBuf,
    /// Seconds one trial may take [default: a third of the budget].
    #[arg(long)]
    trial_time_limit: Option<f64>,
    /// Sampler within each learner's space: tpe or random.
    #[arg(long, default_value = "tpe")]
    search: Sampler,
    /// Do not stop poor trials early (median stopping rule).
    #[arg(long)]
    no_early_stopping: bool,
    /// Built-in early-stopping rule: median, no-improvement or overfitting (see `automl plugin
    /// list`).
    #[arg(long, default_value = "median")]
    stopping_rule: automl::stopping::BuiltinRule,
    /// A WebAssembly plugin (repeatable): a preprocessor, a metric (select it with --metric NAME) or a stopping rule; its kind comes from the component.
    #[arg(long, value_name = "PATH.wasm")]
    plugin: Vec<PathBuf>,
    #[command(flatten)]
    sandbox: SandboxArgs,
    #[command(flatten)]
    kube: KubeArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// No progress display.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Args, Debug)]
struct PredictArgs {
    /// Model file written by `automl run` (DIR/model.automl).
    #[arg(long, short = 'm')]
    model: PathBuf,
    /// Data to predict (CSV with the model's input columns; a target column is ignored).
    data: PathBuf,
    /// Write class probabilities, one column per class label.
    #[arg(long)]
    proba: bool,
    /// Output CSV [default: standard output].
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ProfileArgs {
    /// Data (CSV with a header row).
    data: PathBuf,
    /// Target column, for class balance and leakage checks.
    #[arg(long, short = 't')]
    target: Option<String>,
    /// Task, when a target is given.
    #[arg(long, default_value = "auto")]
    task: TaskChoice,
    /// Comma-separated strings read as missing values besides empty fields.
    #[arg(long, value_delimiter = ',')]
    na_values: Vec<String>,
    /// Print the profile as JSON.
    #[arg(long)]
    json: bool,
}

fn learner_help() -> String {
    let mut s = String::from("Learners:\n");
    for l in all_learners() {
        s.push_str(&format!("  {:<14} {}\n", l.name(), l.description()));
    }
    s.push_str("\nMetrics: accuracy, balanced_accuracy, macro_f1, roc_auc, log_loss (classification); r2, rmse, mae (regression).\n\n");
    s.push_str(EXIT_CODES);
    s
}

fn parse() -> Cli {
    let command = Cli::command().mut_subcommand("run", |c| c.after_help(learner_help()));
    let matches = command.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn main() -> ExitCode {
    let cli = parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) {
                return ExitCode::SUCCESS;
            }
            let top = e.to_string();
            eprintln!("automl: error: {top}");
            // Each error names its source in its own message; print only what it did not say.
            for cause in e.chain().skip(1).map(|c| c.to_string()).filter(|c| !top.contains(c.as_str())) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The exit code for an error: one place maps errors to the outside world.
fn exit_code(e: &anyhow::Error) -> u8 {
    use automl::core::Error as CoreError;
    use automl::Error;
    let core_code = |c: &CoreError| match c {
        CoreError::Unknown { .. } | CoreError::InvalidParams { .. } => 2,
        CoreError::Learner { .. } => 1,
        CoreError::Plugin { .. } => 6,
        _ => 3,
    };
    for cause in e.chain() {
        if let Some(err) = cause.downcast_ref::<Error>() {
            return match err {
                Error::Core(c) => core_code(c),
                Error::Config(_) => 2,
                Error::Io { .. } => 1,
                Error::Model { .. } => 4,
                Error::NoSuccessfulTrial { .. } => 5,
                Error::Cluster(_) => 7,
            };
        }
        if let Some(c) = cause.downcast_ref::<CoreError>() {
            return core_code(c);
        }
    }
    1
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run_experiment(args),
        Command::Predict(args) => predict(args),
        Command::Profile(args) => profile_cmd(args),
        Command::Plugin(PluginCommand::Inspect { path, json, sandbox }) => plugin_inspect(&path, json, &sandbox),
        Command::Plugin(PluginCommand::List { dir, json }) => plugin_list(dir, json),
        Command::Resume(args) => resume(args),
        Command::Trial(args) => trial(args),
    }
}

/// Ctrl-C stops the search (running trials are stopped, their Jobs deleted) and keeps the
/// best model so far; a second Ctrl-C quits at once.
fn cancel_on_ctrl_c() -> automl::CancelToken {
    let token = automl::CancelToken::new();
    let t = token.clone();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nautoml: interrupted: stopping the search and keeping the best model so far (Ctrl-C again to quit now)");
                t.cancel();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    });
    token
}

fn finish_run(experiment: &Experiment, json: bool, quiet: bool) -> anyhow::Result<()> {
    let mut progress = Progress::new(!quiet && std::io::stderr().is_terminal(), experiment.config().time_budget);
    let result = experiment.run_with(&mut progress);
    progress.finish();
    let result = result?;
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&report::summary_json(&result))?)?;
    } else {
        if !result.profile.warnings.is_empty() {
            writeln!(stdout, "data warnings (see profile.json):")?;
            for w in &result.profile.warnings {
                writeln!(stdout, "  - {}{}", w.column.as_ref().map(|c| format!("{c}: ")).unwrap_or_default(), w.message)?;
            }
            writeln!(stdout)?;
        }
        write!(stdout, "{}", report::summary_text(&result))?;
    }
    Ok(())
}

/// A custom-trial experiment (`--spec`), new or resumed.
fn run_custom(
    spec: automl::kubernetes::spec::ExperimentSpec,
    out: &std::path::Path,
    json: bool,
    quiet: bool,
    new: Option<&KubeArgs>,
    resume: Option<(automl::journal::JournalState, automl::kubernetes::KubernetesConfig)>,
) -> anyhow::Result<()> {
    let (kube, state) = match (resume, new) {
        (Some((state, kube)), _) => (kube, Some(state)),
        (None, None) => return Err(automl::Error::Config("nothing to run".into()).into()),
        (None, Some(args)) => {
            let mut kube = args.clone();
            kube.executor = ExecutorKind::Kubernetes;
            let k = kube.config(std::path::Path::new("data.csv"))?.ok_or_else(|| automl::Error::Config("--spec runs trials on Kubernetes".into()))?;
            if args.dry_run {
                let mut rng = <rand_xoshiro::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(spec.seed);
                let namespace = k.namespace.clone().unwrap_or_else(|| "default".into());
                let jobs: Vec<_> = (1..=spec.concurrency.unwrap_or(1) as u64)
                    .map(|id| automl::kubernetes::manifest::trial_job(&k, &namespace, "dryrun", id, spec.trial_time_limit, spec.container(&spec.space().sample(&mut rng))))
                    .collect();
                print!("{}", automl::kubernetes::manifest::to_yaml(&jobs).map_err(automl::Error::Config)?);
                return Ok(());
            }
            (k, None)
        }
    };
    let quiet = quiet || !std::io::stderr().is_terminal();
    let mut on_trial = |r: &TrialResult| {
        if !quiet {
            eprintln!("trial {:>3} {:<14} {:>10} {}", r.id, r.status.name(), r.score.map_or("-".into(), |s| format!("{s:.5}")), r.message.as_deref().unwrap_or(""));
        }
    };
    let result = automl::kubernetes::spec::run_custom(&spec, kube, out, Some(cancel_on_ctrl_c()), state, &mut on_trial)?;
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&result)?)?;
    } else {
        writeln!(stdout, "experiment {}: {} trials, stopped: {:?}, {:.1} s", result.experiment, result.leaderboard.len(), result.stop_reason, result.elapsed_s)?;
        for r in result.leaderboard.iter().take(10) {
            writeln!(stdout, "  trial {:>3} {:<14} {:>10}  {}", r.id, r.status.name(), r.score.map_or("-".into(), |s| format!("{s:.5}")), automl::core::space::config_to_string(&r.config))?;
        }
        for n in &result.notes {
            writeln!(stdout, "note: {n}")?;
        }
        writeln!(stdout, "leaderboard: {}", out.join("leaderboard.csv").display())?;
    }
    if !result.leaderboard.iter().any(|r| r.status == automl::trial::TrialStatus::Ok) {
        return Err(automl::Error::NoSuccessfulTrial { count: result.leaderboard.len(), reasons: result.leaderboard.iter().filter_map(|r| r.message.clone()).take(5).collect() }.into());
    }
    Ok(())
}

fn resume(a: ResumeArgs) -> anyhow::Result<()> {
    let state = automl::journal::read(&a.dir)?;
    if let Some(custom) = automl::kubernetes::spec::from_journal(&state) {
        let (spec, kube) = custom?;
        return run_custom(spec, &a.dir, a.json, a.quiet, None, Some((state, kube)));
    }
    let mut experiment = Experiment::resume(&a.dir)?;
    experiment.set_cancel(cancel_on_ctrl_c());
    finish_run(&experiment, a.json, a.quiet)
}

fn trial(a: TrialArgs) -> anyhow::Result<()> {
    use automl::kubernetes::report::{TrialReport, TERMINATION_PATH_ENV};
    let text = match &a.spec {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => std::env::var(automl::kubernetes::manifest::TRIAL_ENV).map_err(|_| automl::Error::Config(format!("no trial: set ${} to a trial spec (JSON) or pass --spec FILE", automl::kubernetes::manifest::TRIAL_ENV)))?,
    };
    let spec: automl::trial::TrialSpec = serde_json::from_str(&text).map_err(|e| automl::Error::Config(format!("the trial spec is not valid: {e}")))?;
    let termination = std::env::var_os(TERMINATION_PATH_ENV).map_or_else(|| PathBuf::from("/dev/termination-log"), PathBuf::from);
    let started = std::time::Instant::now();
    // Katib lines: the objective, and the same metric on the training rows (for the
    // overfitting rule) as train_<metric>, just before it.
    let outcome = automl::trial::run_remote(&spec, &|step, score, on| {
        let mut out = std::io::stdout().lock();
        let prefix = if on == automl::trial::ScoredOn::Training { "train_" } else { "" };
        let _ = writeln!(out, "step={step} {prefix}{}={score}", spec.metric);
        let _ = out.flush();
    });
    // Whatever happened, the controller gets a report naming it.
    let result = outcome.unwrap_or_else(|e| {
        automl::trial::TrialResult::ended(spec.id, spec.learner.clone(), spec.config.clone(), automl::trial::TrialStatus::Failed, started.elapsed().as_secs_f64(), Some(e.to_string()))
    });
    let report = TrialReport::from_result(&result);
    if let Some(score) = result.score {
        println!("final_{}={score}", spec.metric);
    }
    std::fs::write(&termination, report.to_json()).with_context(|| format!("cannot write the trial report to {}", termination.display()))?;
    eprintln!("automl trial {}: {}{}", spec.id, result.status.name(), result.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default());
    Ok(())
}

fn plugin_inspect(path: &std::path::Path, json: bool, sandbox: &SandboxArgs) -> anyhow::Result<()> {
    let host = PluginHost::new(sandbox.config()?)?;
    let plugin = host.load(path)?;
    let info = plugin.info();
    let load = plugin.load_stats();
    if json {
        let v = serde_json::json!({
            "path": path, "name": info.name, "kind": info.kind, "version": info.version, "description": info.description,
            "exports": plugin.exports(), "sha256": plugin.digest(), "bytes": plugin.bytes().len(),
            "wit": format!("automl:plugins@{}", automl::plugins::WIT_VERSION), "cached": load.cached, "load_s": load.compile_s,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", path.display());
        println!("  name:        {}", info.name);
        println!("  kind:        {}", info.kind);
        println!("  version:     {}", info.version);
        println!("  description: {}", info.description);
        println!("  exports:     {}", plugin.exports().join(", "));
        println!("  sha256:      {}", plugin.digest());
        println!("  size:        {} bytes", plugin.bytes().len());
        println!("  load:        {:.1} ms ({})", load.compile_s * 1000.0, if load.cached { "compiled code from the cache" } else { "compiled now" });
    }
    Ok(())
}

fn plugin_list(dir: Option<PathBuf>, json: bool) -> anyhow::Result<()> {
    let builtin_rules = automl::stopping::builtin_rules();
    let dir = dir.or_else(|| std::env::var_os("AUTOML_PLUGIN_DIR").map(PathBuf::from));
    let mut found = Vec::new();
    if let Some(dir) = &dir {
        let host = PluginHost::new(SandboxConfig::default())?;
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the plugin folder {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        paths.sort();
        for p in paths {
            found.push((p.clone(), host.load(&p).map(|pl| pl.info().clone()).map_err(|e| e.to_string())));
        }
    }
    if json {
        let v = serde_json::json!({
            "metrics": automl::core::metrics::BuiltinMetric::ALL.iter().map(|m| automl::core::metrics::Metric::name(m).to_string()).collect::<Vec<_>>(),
            "rules": builtin_rules.iter().map(|(n, k, d)| serde_json::json!({"name": n, "kind": k, "description": d})).collect::<Vec<_>>(),
            "plugins": found.iter().map(|(p, r)| match r {
                Ok(i) => serde_json::json!({"path": p, "name": i.name, "kind": i.kind, "version": i.version, "description": i.description}),
                Err(e) => serde_json::json!({"path": p, "error": e}),
            }).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("built-in metrics: {}", automl::core::metrics::BuiltinMetric::ALL.iter().map(|m| automl::core::metrics::Metric::name(m).to_string()).collect::<Vec<_>>().join(", "));
    println!("built-in rules:");
    for (name, kind, description) in &builtin_rules {
        println!("  {name:<16} {kind:<14} {description}");
    }
    match &dir {
        None => println!("plugins: pass --dir DIR (or set AUTOML_PLUGIN_DIR) to list the components in a folder"),
        Some(d) => {
            println!("plugins in {}:", d.display());
            if found.is_empty() {
                println!("  (none)");
            }
            for (p, r) in &found {
                match r {
                    Ok(i) => println!("  {:<16} {:<14} {:<8} {}  ({})", i.name, i.kind.name(), i.version, i.description, p.display()),
                    Err(e) => println!("  {}: cannot load: {e}", p.display()),
                }
            }
        }
    }
    Ok(())
}

fn run_experiment(a: RunArgs) -> anyhow::Result<()> {
    if let Some(spec) = &a.spec {
        let spec = automl::kubernetes::spec::ExperimentSpec::from_file(spec)?;
        return run_custom(spec, &a.out, a.json, a.quiet, Some(&a.kube), None);
    }
    let (Some(data), Some(target)) = (a.data.clone(), a.target.clone()) else {
        return Err(automl::Error::Config("give the data and --target, or --spec".into()).into());
    };
    let mut config = ExperimentConfig::new(&data, &target);
    config.task = a.task;
    config.metric = a.metric;
    config.time_budget = (a.time_budget > 0.0).then_some(a.time_budget);
    if a.time_budget < 0.0 {
        return Err(automl::Error::Config(format!("--time-budget must be >= 0, got {}", a.time_budget)).into());
    }
    config.max_trials = a.max_trials;
    config.target_score = a.target_score;
    config.patience = a.patience;
    config.validation = match (a.cv, a.holdout) {
        (Some(k), _) => Some(ValidationPlan::KFold { k }),
        (None, Some(fraction)) => Some(ValidationPlan::Holdout { fraction }),
        _ => None,
    };
    if let Some(c) = a.concurrency {
        config.concurrency = c;
    }
    config.learners = a.learners;
    config.seed = a.seed;
    config.na_values = a.na_values;
    config.out = Some(a.out);
    config.trial_time_limit = a.trial_time_limit;
    config.sampler = a.search;
    config.early_stopping = !a.no_early_stopping;
    config.stopping_rule = a.stopping_rule;
    config.plugins = a.plugin;
    config.sandbox = a.sandbox.config()?;
    if let Some(k) = a.kube.config(&data)? {
        config.executor = ExecutorChoice::Kubernetes(k);
    }
    if a.kube.dry_run {
        let jobs = Experiment::new(config)?.dry_run_jobs()?;
        let yaml = automl::kubernetes::manifest::to_yaml(&jobs).map_err(automl::Error::Config)?;
        print!("{yaml}");
        return Ok(());
    }
    config.cancel = Some(cancel_on_ctrl_c());
    let experiment = Experiment::new(config)?;
    finish_run(&experiment, a.json, a.quiet)
}

fn predict(a: PredictArgs) -> anyhow::Result<()> {
    let artifact = ModelArtifact::load(&a.model)?;
    if a.proba && !artifact.task.is_classification() {
        return Err(automl::Error::Config("--proba needs a classification model; this one is for regression".into()).into());
    }
    let prediction = artifact.predict_csv(&a.data)?;
    match &a.out {
        Some(path) => {
            let mut f = std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?);
            write_predictions(&artifact, &prediction, a.proba, &mut f)?;
        }
        None => write_predictions(&artifact, &prediction, a.proba, &mut std::io::BufWriter::new(std::io::stdout().lock()))?,
    }
    Ok(())
}

fn profile_cmd(a: ProfileArgs) -> anyhow::Result<()> {
    let options = CsvOptions { na_values: a.na_values, text_columns: a.target.iter().cloned().collect(), ..CsvOptions::default() };
    let table = read_csv(&a.data, &options)?;
    let (p, _) = profile(&a.data, &table, a.target.as_deref(), a.task)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
    } else {
        print!("{}", report::profile_text(&p));
    }
    Ok(())
}

/// Progress on stderr: a spinner with trials, best score and time left; hidden when stderr
/// is not a terminal.
struct Progress {
    bar: Option<ProgressBar>,
    budget: Option<f64>,
    trials: usize,
}

impl Progress {
    fn new(enabled: bool, budget: Option<f64>) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed}] {wide_msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            bar.enable_steady_tick(Duration::from_millis(150));
            bar.set_message("reading and profiling the data");
            bar
        });
        Progress { bar, budget, trials: 0 }
    }
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn on_profile(&mut self, p: &automl::core::profile::Profile) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} rows, {} columns: searching", p.rows, p.columns));
        }
    }
    fn on_trial(&mut self, result: &TrialResult, best: Option<&TrialResult>, elapsed: Duration) {
        self.trials += 1;
        if let Some(bar) = &self.bar {
            let best = best.map_or("none yet".to_string(), |b| format!("{:.4} ({})", b.score.unwrap_or(f64::NAN), b.learner));
            let left = self.budget.map_or(String::new(), |b| format!(" | {:.0}s left", (b - elapsed.as_secs_f64()).max(0.0)));
            bar.set_message(format!("trials {} | best {best} | last {} {}{left}", self.trials, result.learner, result.status.name()));
        }
    }
    fn on_refit(&mut self, best: &TrialResult) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("refitting {} on all rows", best.learner));
        }
    }
}
