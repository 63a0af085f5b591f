//! `planner`: coverage analysis, validation and point-to-point links from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use planner::analyze::{self, RunOptions};
use planner::config::PlannerConfig;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  validation found problems in the inputs (`planner validate`)
  2  usage, configuration or input error (bad flag, bad config, unreadable data, analysis failure)
  3  an output file could not be written
  4  measured speeds could not be read from Prometheus (--speeds-from / [speeds] url)";

/// Network coverage planner: which settlements and road kilometres lack 2G/3G/4G/5G service.
#[derive(Parser, Debug)]
#[command(name = "planner", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Coverage and gap analysis (embedded Uzbekistan data when no config is given).
    #[command(after_help = EXIT_CODES)]
    Analyze(AnalyzeArgs),
    /// Load and validate a config and its inputs; print every problem.
    #[command(after_help = EXIT_CODES)]
    Validate(ValidateArgs),
    /// Point-to-point link report over the embedded DEM (--from/--to) or a profile CSV.
    #[command(after_help = EXIT_CODES)]
    Link(planner::link::LinkArgs),
    /// Site plan: greedy maximal covering of the gaps, with costs and a coverage curve.
    #[command(after_help = EXIT_CODES)]
    Plan(planner::plan::PlanArgs),
    /// Write DIR/report.html (self-contained, offline) and DIR/coverage.gpkg (every layer).
    #[command(after_help = EXIT_CODES)]
    Report(planner::report::ReportArgs),
}

#[derive(Args, Debug)]
struct AnalyzeArgs {
    /// Planner config file (TOML); default: embedded dataset, hata_open model, default budget.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write summary.json, CSV tables, GeoJSON layers (and coverage.tif with a grid) here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the JSON summary on stdout instead of the human summary.
    #[arg(long)]
    json: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    /// Propagation model, overriding the config: free_space, hata, hata_urban_large,
    /// hata_urban_small, hata_suburban, hata_open, cost231, cost231_metropolitan, terrain, …
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(usize))]
    threads: Option<usize>,
    /// Also evaluate a grid with cells of M metres over the dataset's extent (coverage.tif with --out).
    #[arg(long, value_name = "M")]
    grid_m: Option<f64>,
    /// Only summarise the dataset; skip the coverage analysis.
    #[arg(long)]
    dataset_only: bool,
    /// Prometheus server (e.g. http://127.0.0.1:9090) to read measured speeds per region from;
    /// overrides `[speeds] url`. Adds them to the summary, the JSON and speeds.csv.
    #[arg(long, value_name = "URL")]
    speeds_from: Option<String>,
}

#[derive(Args, Debug)]
struct ValidateArgs {
    /// Planner config file (TOML); default: the embedded dataset.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// An error with the exit code it maps to.
#[derive(Debug)]
struct Exit(u8, anyhow::Error);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(Exit(code, e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn usage(e: anyhow::Error) -> Exit {
    Exit(2, e)
}

fn load_config(path: Option<&PathBuf>) -> Result<PlannerConfig, Exit> {
    match path {
        Some(p) => PlannerConfig::load(p).map_err(|e| usage(e.into())),
        None => Ok(PlannerConfig::default()),
    }
}

fn run(cli: Cli) -> Result<ExitCode, Exit> {
    match cli.command {
        Command::Analyze(a) => run_analyze(a),
        Command::Validate(v) => run_validate(v),
        Command::Link(l) => run_link(l),
        Command::Report(r) => planner::report::run(&r)
            .map(|()| ExitCode::SUCCESS)
            .map_err(|e| {
                Exit(
                    if e.is::<planner::output::OutputError>() {
                        3
                    } else if e.is::<planner::speeds::SpeedsError>() {
                        4
                    } else {
                        2
                    },
                    e,
                )
            }),
        Command::Plan(p) => planner::plan::run(&p)
            .map(|()| ExitCode::SUCCESS)
            .map_err(|e| {
                Exit(
                    if e.is::<planner::output::OutputError>() {
                        3
                    } else {
                        2
                    },
                    e,
                )
            }),
    }
}

fn run_analyze(args: AnalyzeArgs) -> Result<ExitCode, Exit> {
    if args.threads == Some(0) {
        return Err(usage(anyhow::anyhow!("--threads must be at least 1")));
    }
    if let Some(m) = args.grid_m {
        if !(m.is_finite() && m >= 1.0) {
            return Err(usage(anyhow::anyhow!(
                "--grid-m {m}: give the grid cell size in metres (≥ 1)"
            )));
        }
    }
    let cfg = load_config(args.config.as_ref())?;
    let base = analyze::config_base_dir(args.config.as_deref());
    let ds = analyze::load_dataset(&cfg, &base).map_err(usage)?;
    let summary = planner::summary::summarize(&ds);
    // Before the analysis, so an unreachable Prometheus fails fast.
    let speeds = fetch_speeds(args.speeds_from.as_deref(), &cfg, &ds)?;
    let analysis = if args.dataset_only {
        None
    } else {
        let opts = RunOptions {
            model: args.model.clone(),
            threads: args.threads,
            grid_m: args.grid_m,
            progress: planner::coverage::progress_wanted(args.quiet),
        };
        Some(
            analyze::run(&ds, &cfg, &opts)
                .context("coverage analysis failed")
                .map_err(usage)?,
        )
    };
    let mut report = analyze::report_json(&summary, analysis.as_ref());
    if let Some(s) = &speeds {
        report["speeds"] = serde_json::to_value(s).expect("plain struct serializes");
        if args.json && !args.quiet {
            for w in &s.warnings {
                eprintln!("warning: {w}");
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("JSON values always serialize")
        );
    } else {
        print!("{}", analyze::render_text(&summary, analysis.as_ref()));
        if let Some(s) = &speeds {
            print!("{}", planner::speeds::render_text(s));
        }
    }
    let out = args.out.or_else(|| cfg.outputs.dir.clone());
    if let Some(dir) = out {
        let Some(a) = analysis.as_ref() else {
            return Err(usage(anyhow::anyhow!(
                "--out needs the coverage analysis; drop --dataset-only"
            )));
        };
        let tiff = cfg.outputs.coverage_tiff || a.targets.grid.is_some();
        let mut written = planner::output::write_all(
            &dir,
            &ds,
            a,
            &report,
            cfg.outputs.csv,
            cfg.outputs.geojson,
            tiff,
        )
        .map_err(|e| Exit(3, e.into()))?;
        if let (Some(s), true) = (&speeds, cfg.outputs.csv) {
            let path = dir.join("speeds.csv");
            let bytes = planner::speeds::csv_bytes(s)
                .with_context(|| format!("cannot write {}", path.display()))
                .map_err(|e| Exit(3, e))?;
            written.push(
                planner::output::write_atomic(&dir, "speeds.csv", &bytes)
                    .map_err(|e| Exit(3, e.into()))?,
            );
        }
        if !args.quiet {
            eprintln!("wrote {} files to {}", written.len(), dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Measured speeds from `--speeds-from` or `[speeds] url`, when either is given.
fn fetch_speeds(
    flag: Option<&str>,
    cfg: &PlannerConfig,
    ds: &geodata::Dataset,
) -> Result<Option<planner::speeds::Speeds>, Exit> {
    let sc = planner::speeds::SpeedsConfig::from_toml(cfg.speeds.as_ref())
        .map_err(|p| usage(anyhow::anyhow!(p.join("; "))))?;
    let Some(url) = flag.or(sc.url.as_deref()) else {
        return Ok(None);
    };
    planner::speeds::fetch(url, &sc, &ds.regions)
        .map(Some)
        .map_err(|e| Exit(4, e.into()))
}

fn run_link(args: planner::link::LinkArgs) -> Result<ExitCode, Exit> {
    // Coordinates need terrain: the embedded DEM is the one available without a config.
    let ds = if args.from.is_some() {
        Some(
            geodata::embedded::uzbekistan()
                .context("cannot load the embedded DEM")
                .map_err(usage)?,
        )
    } else {
        None
    };
    let report =
        planner::link::run(&args, ds.as_ref().and_then(|d| d.dem.as_ref())).map_err(usage)?;
    print!("{}", planner::link::render(&report, args.json));
    Ok(ExitCode::SUCCESS)
}

fn run_validate(args: ValidateArgs) -> Result<ExitCode, Exit> {
    let cfg = match args.config.as_ref() {
        Some(p) => match PlannerConfig::load(p) {
            Ok(c) => c,
            Err(e) => {
                println!("{e}");
                return Ok(ExitCode::from(1));
            }
        },
        None => PlannerConfig::default(),
    };
    let base = analyze::config_base_dir(args.config.as_deref());
    let dem_required = analyze::model_from_config(cfg.model.as_ref(), None)
        .map_err(usage)?
        .needs_terrain();
    let (ds, mut errors, mut warnings) = match &cfg.inputs.sources {
        Some(table) => {
            let sources = analyze::sources_from_config(table).map_err(usage)?;
            let (ds, report) = sources.load_report(&base);
            (ds, report.errors.0, report.warnings)
        }
        None => match analyze::load_dataset(&cfg, &base) {
            Ok(ds) => (ds, Vec::new(), Vec::new()),
            Err(e) => {
                println!("{e:#}");
                return Ok(ExitCode::from(1));
            }
        },
    };
    match geodata::validate::validate(&ds, dem_required) {
        Ok(w) => warnings.extend(w),
        Err(geodata::GeodataError::Invalid(ps)) => errors.extend(ps),
        Err(e) => errors.push(geodata::error::Problem::new(
            ds.name.clone(),
            geodata::error::Location::None,
            None,
            e.to_string(),
            "",
        )),
    }
    // The same problem can come from loading and from the validation pass.
    let mut seen = std::collections::BTreeSet::new();
    errors.retain(|p| seen.insert(p.to_string()));
    let mut seen = std::collections::BTreeSet::new();
    warnings.retain(|p| seen.insert(p.to_string()));
    for w in &warnings {
        println!("warning: {w}");
    }
    for e in &errors {
        println!("error: {e}");
    }
    let s = planner::summary::summarize(&ds);
    if errors.is_empty() {
        println!(
            "ok: {} — {} regions, {} settlements, {:.1} road km, {} sites; {} warning(s)",
            s.name,
            s.regions,
            s.settlements,
            s.road_km,
            s.sites,
            warnings.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{} problem(s), {} warning(s) in {}",
            errors.len(),
            warnings.len(),
            s.name
        );
        Ok(ExitCode::from(1))
    }
}
