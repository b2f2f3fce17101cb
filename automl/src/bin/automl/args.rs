//! The command line as given (clap), kept apart from the resolved options: every option of
//! `run` is optional here and becomes a field of [`automl::RawOptions`], whose `resolve`
//! holds the defaults (the `[default: ...]` notes below describe them) and checks values.
use std::path::PathBuf;

use automl::core::task::TaskChoice;
use automl::options::{RawKubernetes, RawOptions};
use automl::search::Sampler;
use automl::stopping::BuiltinRule;
use automl::ExecutorKind;
use clap::{Args, Parser, Subcommand};

/// AutoML for tabular data: profile a CSV, search learners and hyperparameters under a
/// budget, save the best model, predict with it.
#[derive(Parser, Debug)]
#[command(name = "automl", version, propagate_version = true, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

pub const EXIT_CODES: &str = "Exit codes: 0 success; 1 unexpected error (e.g. cannot write output); 2 invalid arguments or settings; 3 unusable data (missing file, malformed CSV, bad column); 4 model file not ours, damaged or of another version; 5 no trial succeeded; 6 a plugin could not be loaded or failed outside a trial; 7 the Kubernetes cluster could not be reached or refused a request.";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Search for the best model for a CSV and save it (DIR/model.automl, leaderboard.csv, profile.json, report.html).
    Run(Box<RunArgs>),
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
    /// Explain a saved model: per-row TreeSHAP contributions of each input column (models of boosters and forests) with their mean absolute value as feature importance, or with --permutation the score lost when a column is shuffled (any model).
    Explain(ExplainArgs),
    /// Experiments declared to a cluster as `Experiment` resources (automl.dev/v1alpha1). This version prints the CustomResourceDefinition; the controller that runs Experiments is not built yet.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Rebuild DIR/report.html (one self-contained HTML file: data, search, leaderboard, model, validation plots) from a finished or running run folder.
    Report(ReportArgs),
}

#[derive(Subcommand, Debug)]
pub enum OperatorCommand {
    /// Print the Experiment CustomResourceDefinition as YAML: `automl operator crd | kubectl apply -f -`.
    Crd,
    /// Run the operator: reconcile Experiment resources until stopped. One replica leads (a Lease); each Experiment's journal, model and report go to STATE_DIR/NAMESPACE/NAME-UID8 on the data claim, where a restarted operator resumes it. Meant to run in the cluster (examples/kubernetes/operator.yaml).
    Run(OperatorRunArgs),
}

#[derive(Args, Debug)]
pub struct OperatorRunArgs {
    /// Watch Experiments in this namespace only [default: all namespaces].
    #[arg(long)]
    pub namespace: Option<String>,
    /// Namespace of the leader-election Lease [default: --namespace, else the kubeconfig's or the pod's].
    #[arg(long)]
    pub lease_namespace: Option<String>,
    /// Where the data claim is mounted in this process.
    #[arg(long, default_value = "/data")]
    pub data_root: PathBuf,
    /// Name of the data claim: Experiments' spec.data.pvc.claim must name it.
    #[arg(long, default_value = "automl-data")]
    pub data_claim: String,
    /// Run folders (journals, models, reports) [default: DATA_ROOT/.automl].
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Name of the claim mounted at --state-dir, if it is not the data claim: the status names models as pvc://CLAIM/PATH.
    #[arg(long)]
    pub state_claim: Option<String>,
    /// Where this process writes the prepared copies of Experiments' data (parsed once, read by every trial pod instead of the CSV) [default: STATE_DIR/prepared when the state is on the data claim; else none unless --prepared-claim].
    #[arg(long)]
    pub prepared_dir: Option<PathBuf>,
    /// A claim (ReadWriteMany) for --prepared-dir that trial pods mount read-only at /prepared: use it when the state claim is not the data claim.
    #[arg(long, requires = "prepared_dir")]
    pub prepared_claim: Option<String>,
    /// Trial image when an Experiment names none.
    #[arg(long, default_value = automl::options::DEFAULT_IMAGE)]
    pub trial_image: String,
    /// Trial pods read the data at this process's own path instead of mounting the claim (single-node clusters and tests).
    #[arg(long)]
    pub same_path_trials: bool,
    /// This replica's name in the Lease [default: $HOSTNAME, the pod's name].
    #[arg(long)]
    pub identity: Option<String>,
    /// Name of the Lease.
    #[arg(long, default_value = "automl-operator")]
    pub lease_name: String,
    /// Seconds a Lease lasts without renewal; another replica takes over after it.
    #[arg(long, default_value_t = 15)]
    pub lease_duration: u64,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Model file written by `automl run` (DIR/model.automl).
    #[arg(long, short = 'm')]
    pub model: PathBuf,
    /// Data to explain (CSV with the model's input columns; --permutation also needs the target column).
    pub data: PathBuf,
    /// Write the contributions CSV here: `shap:COLUMN` per input column, `base_value` and `raw_prediction` per row (with several classes, `shap:CLASS:COLUMN` and so on); they sum to the raw prediction [default: standard output].
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Explain only this trial's configuration of the model (the summary lists its members' trials).
    #[arg(long, value_name = "N")]
    pub trial: Option<u64>,
    /// Measure permutation importance instead: for each column, the model's score on DATA minus its score with that column's values shuffled.
    #[arg(long)]
    pub permutation: bool,
    /// Shuffles per column for --permutation.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub repeats: usize,
    /// Seed of the shuffles.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the feature importance as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The run's output folder (holding journal.jsonl).
    pub dir: PathBuf,
    /// Write the report here instead of DIR/report.html.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// The run's output folder (holding journal.jsonl).
    pub dir: PathBuf,
    /// Reuse the journal's sandbox grants, trial image, command and service account (listed when resume refuses them) without restating them.
    #[arg(long)]
    pub accept_settings: bool,
    /// The trial image you expect the run to use: resume refuses a journal that names another.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress display.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct TrialArgs {
    /// Trial spec as a JSON file [default: the JSON in $AUTOML_TRIAL].
    #[arg(long)]
    pub spec: Option<PathBuf>,
}

/// Where trials run when `--executor kubernetes` is given. Each trial is a batch/v1 Job.
#[derive(Args, Debug, Clone)]
pub struct KubeArgs {
    /// Where trials run: local (threads here) or kubernetes (one Job per trial on the cluster of $KUBECONFIG, ~/.kube/config or the pod's ServiceAccount) [default: local].
    #[arg(long, help_heading = "Kubernetes")]
    pub executor: Option<ExecutorKind>,
    /// Namespace for trial Jobs [default: the kubeconfig's].
    #[arg(long, help_heading = "Kubernetes")]
    pub namespace: Option<String>,
    /// Trial image holding the automl binary (built from the repository's Dockerfile) [default: ghcr.io/automl-rs/automl:VERSION].
    #[arg(long, help_heading = "Kubernetes")]
    pub image: Option<String>,
    /// imagePullPolicy of trial pods (Always, IfNotPresent, Never).
    #[arg(long, help_heading = "Kubernetes")]
    pub image_pull_policy: Option<String>,
    /// GPUs per trial (a limit on --gpu-resource) [default: 0].
    #[arg(long, help_heading = "Kubernetes")]
    pub gpus: Option<u32>,
    /// Extended resource name for GPUs [default: nvidia.com/gpu].
    #[arg(long, help_heading = "Kubernetes")]
    pub gpu_resource: Option<String>,
    /// CPU request and limit per trial (e.g. 2 or 500m).
    #[arg(long, help_heading = "Kubernetes")]
    pub cpu: Option<String>,
    /// Memory request and limit per trial (e.g. 4Gi).
    #[arg(long, help_heading = "Kubernetes")]
    pub memory: Option<String>,
    /// Node selector label KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE", help_heading = "Kubernetes")]
    pub node_selector: Vec<String>,
    /// Toleration KEY[=VALUE][:EFFECT] (repeatable), e.g. nvidia.com/gpu:NoSchedule.
    #[arg(long, value_name = "KEY[=VALUE][:EFFECT]", help_heading = "Kubernetes")]
    pub toleration: Vec<String>,
    /// priorityClassName of trial pods.
    #[arg(long, help_heading = "Kubernetes")]
    pub priority_class: Option<String>,
    /// ServiceAccount of trial pods.
    #[arg(long, help_heading = "Kubernetes")]
    pub service_account: Option<String>,
    /// Pod retries before a trial fails (backoffLimit) [default: 0].
    #[arg(long, help_heading = "Kubernetes")]
    pub backoff_limit: Option<i32>,
    /// Seconds finished Jobs are kept (ttlSecondsAfterFinished) [default: 3600].
    #[arg(long, help_heading = "Kubernetes")]
    pub job_ttl: Option<i32>,
    /// Seconds added to a trial's time limit for scheduling and image pulls [default: 120].
    #[arg(long, help_heading = "Kubernetes")]
    pub startup_allowance: Option<u64>,
    /// A trial whose pod stays unschedulable this many seconds fails [default: 300].
    #[arg(long, help_heading = "Kubernetes")]
    pub unschedulable_timeout: Option<u64>,
    /// Stop the run (exit code 7; `automl resume` continues it) when the API server has not answered for this many seconds [default: 120].
    #[arg(long, value_name = "SECONDS", help_heading = "Kubernetes")]
    pub api_outage_limit: Option<u64>,
    /// Trial pods read the data from this PersistentVolumeClaim, mounted read-only: CLAIM[:MOUNT_PATH] (mount path default /data).
    #[arg(long, value_name = "CLAIM[:MOUNT]", help_heading = "Kubernetes", conflicts_with = "data_url")]
    pub data_pvc: Option<String>,
    /// Path of the CSV inside the PVC [default: the data file's name].
    #[arg(long, value_name = "PATH", help_heading = "Kubernetes", requires = "data_pvc")]
    pub data_path: Option<String>,
    /// Trial pods download the data from this http(s) URL (checked against the local file's SHA-256).
    #[arg(long, value_name = "URL", help_heading = "Kubernetes")]
    pub data_url: Option<String>,
    /// Parse the data once into this folder (by content hash) and have trial pods read that prepared copy instead of the CSV; pods see the folder at the same path unless --prepared-claim is given.
    #[arg(long, value_name = "DIR", help_heading = "Kubernetes")]
    pub prepared_dir: Option<std::path::PathBuf>,
    /// Trial pods mount this claim read-only to find --prepared-dir: CLAIM[:MOUNT_PATH] (mount path default /prepared; needs ReadWriteMany or ReadOnlyMany storage).
    #[arg(long, value_name = "CLAIM[:MOUNT]", help_heading = "Kubernetes", requires = "prepared_dir")]
    pub prepared_claim: Option<String>,
    /// On Ctrl-C or the end of the budget, leave the experiment's running Jobs in place.
    #[arg(long, help_heading = "Kubernetes")]
    pub keep_jobs: bool,
    /// Print the Job manifests of the first trials as YAML and create nothing.
    #[arg(long, help_heading = "Kubernetes")]
    pub dry_run: bool,
}

impl KubeArgs {
    /// Whether any cluster option was given (they mean nothing to the local executor).
    pub fn any_given(&self) -> bool {
        let strings = [&self.namespace, &self.image, &self.image_pull_policy, &self.gpu_resource, &self.cpu, &self.memory, &self.priority_class, &self.service_account, &self.data_pvc, &self.data_path, &self.data_url, &self.prepared_claim];
        let numbers = [self.gpus.is_some(), self.backoff_limit.is_some(), self.job_ttl.is_some(), self.startup_allowance.is_some(), self.unschedulable_timeout.is_some(), self.api_outage_limit.is_some()];
        strings.iter().any(|s| s.is_some()) || numbers.iter().any(|n| *n) || !self.node_selector.is_empty() || !self.toleration.is_empty() || self.keep_jobs || self.prepared_dir.is_some()
    }

    /// The Kubernetes options as given.
    pub fn raw(&self) -> RawKubernetes {
        RawKubernetes {
            namespace: self.namespace.clone(),
            image: self.image.clone(),
            image_pull_policy: self.image_pull_policy.clone(),
            gpus: self.gpus,
            gpu_resource: self.gpu_resource.clone(),
            cpu: self.cpu.clone(),
            memory: self.memory.clone(),
            node_selector: Some(automl::options::Labels::List(self.node_selector.clone())),
            tolerations: Some(self.toleration.clone()),
            priority_class: self.priority_class.clone(),
            service_account: self.service_account.clone(),
            backoff_limit: self.backoff_limit,
            job_ttl: self.job_ttl,
            startup_allowance: self.startup_allowance,
            unschedulable_timeout: self.unschedulable_timeout,
            api_outage_limit: self.api_outage_limit,
            data_pvc: self.data_pvc.clone(),
            data_path: self.data_path.clone(),
            data_url: self.data_url.clone(),
            keep_jobs: Some(self.keep_jobs),
            prepared_dir: self.prepared_dir.clone(),
            prepared_claim: self.prepared_claim.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
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
pub struct SandboxArgs {
    /// Memory cap per plugin instance, in MiB [default: 256].
    #[arg(long, value_name = "MIB")]
    pub plugin_memory: Option<usize>,
    /// Longest a single plugin call may run, in seconds [default: 30].
    #[arg(long, value_name = "SECONDS")]
    pub plugin_timeout: Option<f64>,
    /// Let plugins read this directory (repeatable).
    #[arg(long, value_name = "DIR")]
    pub plugin_allow_dir: Vec<PathBuf>,
    /// Let plugins open network connections.
    #[arg(long)]
    pub plugin_allow_network: bool,
    /// Pass this environment variable to plugins (repeatable).
    #[arg(long, value_name = "NAME")]
    pub plugin_allow_env: Vec<String>,
    /// Give plugins the real clocks (otherwise they read zero).
    #[arg(long)]
    pub plugin_allow_clock: bool,
    /// Compile plugins every time instead of caching the compiled code (in $AUTOML_CACHE_DIR or ~/.cache/automl).
    #[arg(long)]
    pub plugin_no_cache: bool,
}

impl SandboxArgs {
    /// Copies the sandbox flags into `raw`.
    pub fn fill(&self, raw: &mut RawOptions) {
        raw.plugin_memory = self.plugin_memory;
        raw.plugin_timeout = self.plugin_timeout;
        raw.plugin_allow_dir = Some(self.plugin_allow_dir.clone());
        raw.plugin_allow_network = Some(self.plugin_allow_network);
        raw.plugin_allow_env = Some(self.plugin_allow_env.clone());
        raw.plugin_allow_clock = Some(self.plugin_allow_clock);
        raw.plugin_no_cache = Some(self.plugin_no_cache);
    }
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Training data (CSV with a header row).
    #[arg(required_unless_present = "spec")]
    pub data: Option<PathBuf>,
    /// Column to predict.
    #[arg(long, short = 't', required_unless_present = "spec")]
    pub target: Option<String>,
    /// Tune your own training image instead: an experiment spec (YAML) with the image, command and args with ${name} placeholders, the search space and the objective; trials run as Kubernetes Jobs (see examples/kubernetes/).
    #[arg(long, value_name = "FILE.yaml", conflicts_with_all = ["data", "target"])]
    pub spec: Option<PathBuf>,
    /// Task: auto (inferred from the target), binary, multiclass or regression [default: auto].
    #[arg(long)]
    pub task: Option<TaskChoice>,
    /// Objective metric [default: log_loss for classification, r2 for regression].
    #[arg(long)]
    pub metric: Option<String>,
    /// Time budget in seconds for the whole run, refit included; 0 = no time limit [default: 60].
    #[arg(long)]
    pub time_budget: Option<f64>,
    /// Stop after this many trials.
    #[arg(long)]
    pub max_trials: Option<usize>,
    /// Stop as soon as a trial reaches this validation score.
    #[arg(long)]
    pub target_score: Option<f64>,
    /// Stop after this many finished trials without a new best.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Validate with K-fold cross-validation (stratified for classification).
    #[arg(long, value_name = "K", conflicts_with = "holdout")]
    pub cv: Option<usize>,
    /// Validate on a held-out FRACTION of the rows [default: 5-fold CV under 10,000 rows, else 0.2 holdout].
    #[arg(long, value_name = "FRACTION")]
    pub holdout: Option<f64>,
    /// Trials run in parallel, one thread each [default: number of cores].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Comma-separated learners to search (see the list below) [default: all that fit the task].
    #[arg(long, value_delimiter = ',')]
    pub learners: Option<Vec<String>>,
    /// Seed for splits, search and learners [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Comma-separated strings read as missing values besides empty fields (e.g. NA,None).
    #[arg(long, value_delimiter = ',')]
    pub na_values: Vec<String>,
    /// CSV field separator: one character such as ';', or 'tab' [default: ',' unless the header has no ',' but ';', tabs or '|'].
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// Output folder (locked while the run writes there).
    #[arg(long, default_value = "automl-out")]
    pub out: PathBuf,
    /// Replace a run already recorded in --out (its journal, trials, leaderboard and model) instead of refusing to start.
    #[arg(long)]
    pub force: bool,
    /// Seconds one trial may take [default: a third of the budget; an hour without a time budget].
    #[arg(long)]
    pub trial_time_limit: Option<f64>,
    /// Sampler within each learner's space: tpe or random [default: tpe].
    #[arg(long)]
    pub search: Option<Sampler>,
    /// Do not stop poor trials early (median stopping rule).
    #[arg(long)]
    pub no_early_stopping: bool,
    /// Keep the best trial alone as the model, without building a weighted ensemble of the best trials (built by default when it beats the best trial on the validation rows).
    #[arg(long)]
    pub no_ensemble: bool,
    /// How the model's configurations are fitted at the end: refit (again on all rows), bag (keep each configuration's models of the validation splits and average them, as AutoGluon's bagged models; no refit time, k times the prediction time) or auto (under k-fold validation, bag the configurations, best first, while the model is expected to predict 100,000 rows in at most 2 s, refit the others; refit under a holdout) [default: auto].
    #[arg(long, value_name = "MODE")]
    pub final_fit: Option<automl::bagging::FinalFit>,
    /// JSON file of configurations to try first, in order: a list of {"learner": NAME, "hyperparameters": {...}} (the shape of trials.jsonl's entries); values are fitted to the learner's search space.
    #[arg(long, value_name = "FILE")]
    pub starting_points: Option<PathBuf>,
    /// Built-in early-stopping rule: median, no-improvement or overfitting (see `automl plugin list`) [default: median].
    #[arg(long)]
    pub stopping_rule: Option<BuiltinRule>,
    /// A WebAssembly plugin (repeatable): a preprocessor, a metric (select it with --metric NAME) or a stopping rule; its kind comes from the component.
    #[arg(long, value_name = "PATH.wasm")]
    pub plugin: Vec<PathBuf>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress display.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl RunArgs {
    /// The options as given, for [`RawOptions::resolve`].
    pub fn raw(&self) -> RawOptions {
        let mut raw = RawOptions {
            task: self.task,
            metric: self.metric.clone(),
            time_budget: self.time_budget,
            max_trials: self.max_trials,
            target_score: self.target_score,
            patience: self.patience,
            folds: self.cv,
            holdout: self.holdout,
            concurrency: self.concurrency,
            learners: self.learners.clone(),
            seed: self.seed,
            na_values: Some(self.na_values.clone()),
            delimiter: self.delimiter.clone(),
            out: Some(self.out.clone()),
            force: Some(self.force),
            trial_time_limit: self.trial_time_limit,
            search: self.search,
            early_stopping: Some(!self.no_early_stopping),
            ensemble: Some(!self.no_ensemble),
            final_fit: self.final_fit,
            starting_points: self.starting_points.clone(),
            stopping_rule: self.stopping_rule,
            plugins: Some(self.plugin.clone()),
            executor: self.kube.executor,
            // Cluster flags without the Kubernetes executor are refused by `resolve`.
            kubernetes: (self.kube.executor == Some(ExecutorKind::Kubernetes) || self.kube.any_given()).then(|| self.kube.raw()),
            ..RawOptions::default()
        };
        self.sandbox.fill(&mut raw);
        raw
    }
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Model file written by `automl run` (DIR/model.automl).
    #[arg(long, short = 'm')]
    pub model: PathBuf,
    /// Data to predict (CSV with the model's input columns; a target column is ignored).
    pub data: PathBuf,
    /// Write class probabilities, one column per class label.
    #[arg(long)]
    pub proba: bool,
    /// Output CSV [default: standard output].
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Longest one call of a preprocessing plugin stored in the model may run, in seconds [default: 30].
    #[arg(long, value_name = "SECONDS")]
    pub plugin_timeout: Option<f64>,
    /// Memory cap of those plugins, in MiB [default: 256].
    #[arg(long, value_name = "MIB")]
    pub plugin_memory: Option<usize>,
}

#[derive(Args, Debug)]
pub struct ProfileArgs {
    /// Data (CSV with a header row).
    pub data: PathBuf,
    /// Target column, for class balance and leakage checks.
    #[arg(long, short = 't')]
    pub target: Option<String>,
    /// Task, when a target is given [default: auto].
    #[arg(long)]
    pub task: Option<TaskChoice>,
    /// Comma-separated strings read as missing values besides empty fields.
    #[arg(long, value_delimiter = ',')]
    pub na_values: Vec<String>,
    /// CSV field separator: one character such as ';', or 'tab' [default: ',' unless the header has no ',' but ';', tabs or '|'].
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// Print the profile as JSON.
    #[arg(long)]
    pub json: bool,
}
