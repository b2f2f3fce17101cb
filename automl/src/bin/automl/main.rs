//! The `automl` command: argument parsing ([`args`]), dispatch to the `automl` library, and
//! printing ([`print`]). Errors map to exit codes in [`exit_code`], one place.
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use automl::artifact::{write_predictions, ModelArtifact};
use automl::core::data::{read_csv, CsvOptions};
use automl::core::learners::all_learners;
use automl::core::profile::profile;
use automl::plugins::PluginHost;
use automl::{Experiment, Resumed};
use clap::{CommandFactory, FromArgMatches};

mod args;
mod print;

use args::{Cli, Command, ExplainArgs, OperatorCommand, OperatorRunArgs, PluginCommand, PredictArgs, ProfileArgs, ReportArgs, ResumeArgs, RunArgs, TrialArgs, EXIT_CODES};

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
                Error::Io { .. } | Error::Thread { .. } | Error::Serialize { .. } | Error::Runtime { .. } => 1,
                Error::Model { .. } => 4,
                Error::Download { .. } => 3,
                Error::NoSuccessfulTrial { .. } => 5,
                Error::Cluster { .. } => 7,
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
        Command::Run(args) => run_experiment(&args),
        Command::Predict(args) => predict(args),
        Command::Profile(args) => profile_cmd(args),
        Command::Plugin(PluginCommand::Inspect { path, json, sandbox }) => {
            let mut raw = automl::RawOptions::default();
            sandbox.fill(&mut raw);
            let host = PluginHost::new(raw.sandbox_policy()?)?;
            if let Some(warning) = host.cache_warning() {
                eprintln!("automl: warning: {warning}");
            }
            print::plugin(&path, &host.load(&path)?, json)
        }
        Command::Plugin(PluginCommand::List { dir, json }) => plugin_list(dir, json),
        Command::Resume(args) => resume(args),
        Command::Trial(args) => trial(args),
        Command::Report(args) => report(args),
        Command::Explain(args) => explain(args),
        Command::Operator(OperatorCommand::Crd) => operator_crd(),
        Command::Operator(OperatorCommand::Run(args)) => operator_run(args),
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

fn progress_wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

fn run_builtin(mut experiment: Experiment, json: bool, quiet: bool) -> anyhow::Result<()> {
    experiment.set_cancel(cancel_on_ctrl_c());
    let mut progress = print::Progress::new(progress_wanted(quiet), experiment.options().time_budget);
    let result = experiment.run_with(&mut progress);
    progress.finish();
    print::summary(&result?, json)
}

fn run_experiment(a: &RunArgs) -> anyhow::Result<()> {
    if let Some(spec) = &a.spec {
        return run_spec(spec, a);
    }
    let (Some(data), Some(target)) = (&a.data, &a.target) else {
        return Err(automl::Error::Config("give the data and --target, or --spec".into()).into());
    };
    let experiment = Experiment::new(a.raw().resolve(data, target)?)?;
    if a.kube.dry_run {
        print!("{}", experiment.dry_run()?);
        return Ok(());
    }
    run_builtin(experiment, a.json, a.quiet)
}

#[cfg(feature = "kubernetes")]
fn run_spec(spec: &std::path::Path, a: &RunArgs) -> anyhow::Result<()> {
    let spec = automl::spec::ExperimentSpec::from_file(spec)?;
    let kubernetes = a.kube.raw().resolve(std::path::Path::new("data.csv"))?;
    let mut experiment = automl::CustomExperiment::new(spec, kubernetes, &a.out)?;
    experiment.set_force(a.force);
    if a.kube.dry_run {
        print!("{}", experiment.dry_run()?);
        return Ok(());
    }
    run_custom(experiment, a.json, a.quiet)
}

#[cfg(not(feature = "kubernetes"))]
fn run_spec(_spec: &std::path::Path, _a: &RunArgs) -> anyhow::Result<()> {
    Err(automl::Error::Config(automl::runner::NO_KUBERNETES.into()).into())
}

#[cfg(feature = "kubernetes")]
fn run_custom(mut experiment: automl::CustomExperiment, json: bool, quiet: bool) -> anyhow::Result<()> {
    experiment.set_cancel(cancel_on_ctrl_c());
    let result = experiment.run_with(&mut print::TrialLines(progress_wanted(quiet)))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&automl::report::custom_summary_json(&result))?);
    } else {
        print!("{}", automl::report::custom_summary_text(&result));
    }
    // The leaderboard is printed and written first: a run whose trials all failed says why.
    Ok(result.succeeded()?)
}

#[cfg(not(feature = "kubernetes"))]
fn run_custom(experiment: automl::CustomExperiment, _json: bool, _quiet: bool) -> anyhow::Result<()> {
    drop(experiment);
    Err(automl::Error::Config(automl::runner::NO_KUBERNETES.into()).into())
}

fn resume(a: ResumeArgs) -> anyhow::Result<()> {
    let resumed = automl::resume(&a.dir)?;
    let reused = resumed.reused();
    if !a.quiet {
        eprintln!("automl: resuming {} with the settings of its journal:", a.dir.display());
        reused.settings.iter().for_each(|s| eprintln!("  {s}"));
    }
    let mut to_confirm = reused.to_confirm.clone();
    if let (Some(expected), Some(journaled)) = (&a.image, &reused.image) {
        if expected != journaled {
            return Err(automl::Error::Config(format!("{}: the journal's trial image is {journaled}, not {expected}; resume refuses to run another image than the one you expect", a.dir.display())).into());
        }
        to_confirm.retain(|s| s != &format!("trial image {journaled}"));
    }
    if !to_confirm.is_empty() && !a.accept_settings {
        return Err(automl::Error::Config(format!(
            "{}: its journal grants access or chooses what runs ({}); a folder's journal can be edited, so check these and pass --accept-settings to reuse them{}",
            a.dir.display(),
            to_confirm.join("; "),
            if reused.image.is_some() { " (or --image IMAGE to confirm the image)" } else { "" }
        ))
        .into());
    }
    match resumed {
        Resumed::Builtin(experiment) => run_builtin(experiment, a.json, a.quiet),
        Resumed::Custom(experiment) => run_custom(experiment, a.json, a.quiet),
    }
}

#[cfg(feature = "kubernetes")]
fn trial(a: TrialArgs) -> anyhow::Result<()> {
    let spec = automl::kubernetes::pod::read_spec(a.spec.as_deref())?;
    let result = automl::kubernetes::pod::run_trial_pod(&spec)?;
    eprintln!("automl trial {}: {}{}", spec.id, result.status.name(), result.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default());
    Ok(())
}

#[cfg(feature = "kubernetes")]
fn operator_crd() -> anyhow::Result<()> {
    let yaml = automl::kubernetes::crd::crd_yaml().map_err(|e| automl::Error::Serialize { what: "the CustomResourceDefinition as YAML".into(), source: e.into() })?;
    print!("{yaml}");
    Ok(())
}

#[cfg(feature = "kubernetes")]
fn operator_run(a: OperatorRunArgs) -> anyhow::Result<()> {
    use automl::operator::OperatorOptions;
    let defaults = OperatorOptions::default();
    if a.lease_duration == 0 {
        return Err(automl::Error::Config("--lease-duration must be at least 1 second".into()).into());
    }
    let options = OperatorOptions {
        namespace: a.namespace,
        lease_namespace: a.lease_namespace,
        data_root: a.data_root,
        data_claim: a.data_claim,
        state_dir: a.state_dir,
        state_claim: a.state_claim,
        prepared_dir: a.prepared_dir,
        prepared_claim: a.prepared_claim,
        trial_image: a.trial_image,
        // Tests point this at a local binary; images run `automl`.
        trial_command: std::env::var("AUTOML_TRIAL_COMMAND").map_or(defaults.trial_command.clone(), |c| c.split_whitespace().map(String::from).collect()),
        same_path_trials: a.same_path_trials,
        identity: a.identity.unwrap_or(defaults.identity),
        lease_name: a.lease_name,
        lease_duration: std::time::Duration::from_secs(a.lease_duration),
    };
    automl::operator::run(options)?;
    Ok(())
}

#[cfg(not(feature = "kubernetes"))]
fn operator_run(_a: OperatorRunArgs) -> anyhow::Result<()> {
    Err(automl::Error::Config(automl::runner::NO_KUBERNETES.into()).into())
}

#[cfg(not(feature = "kubernetes"))]
fn operator_crd() -> anyhow::Result<()> {
    Err(automl::Error::Config(automl::runner::NO_KUBERNETES.into()).into())
}

#[cfg(not(feature = "kubernetes"))]
fn trial(_a: TrialArgs) -> anyhow::Result<()> {
    Err(automl::Error::Config(automl::runner::NO_KUBERNETES.into()).into())
}

fn plugin_list(dir: Option<PathBuf>, json: bool) -> anyhow::Result<()> {
    let dir = dir.or_else(|| std::env::var_os("AUTOML_PLUGIN_DIR").map(PathBuf::from));
    let mut found = Vec::new();
    if let Some(dir) = &dir {
        let host = PluginHost::new(automl::plugins::SandboxPolicy::default())?;
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
    print::plugin_list(dir.as_deref(), &found, json)
}

fn predict(a: PredictArgs) -> anyhow::Result<()> {
    let artifact = ModelArtifact::load(&a.model)?;
    if a.proba && !artifact.task.is_classification() {
        return Err(automl::Error::Config("--proba needs a classification model; this one is for regression".into()).into());
    }
    let host = if artifact.preprocessors.is_empty() || (a.plugin_timeout.is_none() && a.plugin_memory.is_none()) {
        None
    } else {
        let raw = automl::RawOptions { plugin_timeout: a.plugin_timeout, plugin_memory: a.plugin_memory, ..automl::RawOptions::default() };
        Some(PluginHost::new(raw.sandbox_policy()?)?)
    };
    let prediction = artifact.predict_csv_in(&a.data, host.as_ref())?;
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
    let delimiter = a.delimiter.as_deref().map(automl::options::parse_delimiter).transpose()?;
    let options = CsvOptions { na_values: a.na_values, text_columns: a.target.iter().cloned().collect(), delimiter };
    let table = read_csv(&a.data, &options)?;
    let (p, _) = profile(&a.data, &table, a.target.as_deref(), a.task.unwrap_or_default())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
    } else {
        print!("{}", automl::report::profile_text(&p));
    }
    Ok(())
}

/// `automl explain`: contributions to a CSV and their importance, or permutation importance.
fn explain(a: ExplainArgs) -> anyhow::Result<()> {
    use automl::core::metrics::Metric;
    use std::io::Write;
    let artifact = ModelArtifact::load(&a.model)?;
    let table = artifact.read_csv(&a.data, a.permutation)?;
    let source = a.data.display().to_string();
    if a.permutation {
        let (metric, baseline, importance) = artifact.permutation_importance(&table, &source, a.repeats, a.seed)?;
        let title = format!("permutation importance: {} lost when a column is shuffled ({} on the data as given: {baseline:.4}; {} shuffles)", metric.name(), metric.name(), a.repeats.max(1));
        return print::importance(&title, &importance, a.json, serde_json::json!({"method": "permutation", "metric": metric.name(), "score": baseline, "repeats": a.repeats.max(1)}));
    }
    let explanation = artifact.explain_table(&table, &source, a.trial)?;
    let details = serde_json::json!({"method": "tree_shap", "output_space": explanation.space.name(), "outputs": explanation.outputs, "trials": explanation.trials});
    let title = format!("TreeSHAP feature importance: mean |contribution| to the {} ({} rows)", explanation.space.name(), table.n_rows);
    match &a.out {
        Some(path) => {
            let mut f = std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?);
            explanation.write_csv(&mut f)?;
            f.flush()?;
            print::importance(&title, &explanation.importance(), a.json, details)
        }
        None if a.json => Err(automl::Error::Config("--json prints the importance, so the contributions need --out FILE".into()).into()),
        None => {
            explanation.write_csv(&mut std::io::BufWriter::new(std::io::stdout().lock()))?;
            eprint!("{}", print::importance_text(&title, &explanation.importance()));
            Ok(())
        }
    }
}

/// `automl report DIR`: the report rebuilt from the run folder.
fn report(args: ReportArgs) -> anyhow::Result<()> {
    if !args.dir.join(automl::journal::JOURNAL_FILE).exists() {
        return Err(automl::html::not_a_run(&args.dir).into());
    }
    let path = match &args.out {
        Some(out) => {
            let folder = automl::html::RunFolder::read(&args.dir)?;
            automl::util::write_atomic(out, automl::html::page::render(&folder).as_bytes())?;
            out.clone()
        }
        None => automl::html::write(&args.dir)?,
    };
    println!("wrote {}", path.display());
    Ok(())
}
