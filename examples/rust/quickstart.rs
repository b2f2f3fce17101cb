//! Runs an experiment from Rust in a few lines, then predicts with the saved model.
//!
//!     cargo run -p automl --example quickstart
use automl::core::metrics::Prediction;
use automl::{Experiment, ModelArtifact};

fn main() -> anyhow::Result<()> {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/penguins.csv");
    let out = std::env::temp_dir().join("automl-quickstart");
    let result = Experiment::builder(data, "species").time_budget(10.0).out(&out).build()?.run()?;
    print!("{}", automl::report::summary_text(&result));

    // The saved file predicts like the model in memory.
    let model = ModelArtifact::load(&out.join("model.automl"))?;
    if let Prediction::Classes(p) = model.predict_csv(data.as_ref())? {
        println!("first row: {:?} -> {}", p.row(0).to_vec(), model.labels[Prediction::Classes(p.clone()).classes()[0]]);
    }
    Ok(())
}
