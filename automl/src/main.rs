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
use automl::{report, Experiment, ExperimentConfig, Observer};
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

const EXIT_CODES: &str = "Exit codes: 0 success; 1 unexpected error (e.g. cannot write output); 2 invalid arguments or settings; 3 unusable data (missing file, malformed CSV, bad column); 4 model file not ours, damaged or of another version; 5 no trial succeeded.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Search for the best model for a CSV and save it (DIR/model.automl, leaderboard.csv, profile.json).
    Run(RunArgs),
    /// Predict with a saved model: one row of output per input row, in input order.
    Predict(PredictArgs),
    /// Profile a CSV: column kinds, missing values, and data problems.
    Profile(ProfileArgs),
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Training data (CSV with a header row).
    data: PathBuf,
    /// Column to predict.
    #[arg(long, short = 't')]
    target: String,
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
    }
}

fn run_experiment(a: RunArgs) -> anyhow::Result<()> {
    let mut config = ExperimentConfig::new(&a.data, &a.target);
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
    let experiment = Experiment::new(config)?;
    let mut progress = Progress::new(!a.quiet && std::io::stderr().is_terminal(), experiment.config().time_budget);
    let result = experiment.run_with(&mut progress);
    progress.finish();
    let result = result?;
    let mut stdout = std::io::stdout().lock();
    if a.json {
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
