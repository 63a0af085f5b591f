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
  2  usage, configuration or input error (bad flag, bad config, unreadable data, an input
     check of `planner validate` failing, analysis failure)
  3  an output file could not be written (nothing of the run is left in the folder)
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
    /// Point-to-point link report over a DEM (--from/--to) or a profile CSV, with every
    /// parameter in force; --out draws the path profile as SVG.
    #[command(after_help = EXIT_CODES)]
    Link(link_cli::LinkArgs),
    /// Site plan: greedy maximal covering of the gaps, with costs and a coverage curve.
    #[command(after_help = EXIT_CODES)]
    Plan(plan_cli::PlanArgs),
    /// Write DIR/report.html (self-contained, offline) and DIR/coverage.gpkg (every layer).
    #[command(after_help = EXIT_CODES)]
    Report(report_cli::ReportArgs),
}

#[derive(Args, Debug)]
struct AnalyzeArgs {
    /// Planner config file (TOML); default: embedded dataset, auto model, default budget.
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
    /// Propagation model, overriding the config: auto (default), itm, free_space, hata, hata_urban_large,
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
        Command::Report(r) => report_cli::run(&r)
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
        Command::Plan(p) => plan_cli::run(&p).map(|()| ExitCode::SUCCESS).map_err(|e| {
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
    let out = args.out.clone().or_else(|| cfg.outputs.dir.clone());
    if out.is_some() && args.dataset_only {
        return Err(usage(anyhow::anyhow!(
            "--out needs the coverage analysis; drop --dataset-only"
        )));
    }
    // The same checks as `planner validate`; the DEM counts when the model in force needs it.
    let dem_required = !args.dataset_only
        && analyze::build_model(&cfg, args.model.as_deref())
            .map_err(usage)?
            .needs_terrain();
    let (ds, warnings) = planner::inputs::load_checked(&analyze::input_options(&cfg, dem_required))
        .map_err(|e| usage(e.into()))?;
    if !args.quiet {
        print_warnings(&warnings);
    }
    // Before any computation, so an unwritable folder fails fast and leaves nothing.
    let mut staging = match &out {
        Some(dir) => Some(planner::output::Staging::open(dir).map_err(|e| Exit(3, e.into()))?),
        None => None,
    };
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
    let mut report = planner::render::analysis::report_json(&summary, analysis.as_ref());
    if let Some(s) = &speeds {
        report["speeds"] = serde_json::to_value(s).expect("plain struct serializes");
        if args.json && !args.quiet {
            for w in &s.warnings {
                eprintln!("warning: {w}");
            }
        }
    }
    if args.json {
        let mut text = serde_json::to_string_pretty(&report).expect("JSON values always serialize");
        text.push('\n');
        stdout(&text)?;
    } else {
        let mut text = planner::render::analysis::render_text(&summary, analysis.as_ref());
        if let Some(s) = &speeds {
            text.push_str(&planner::speeds::render_text(s));
        }
        stdout(&text)?;
    }
    if let (Some(mut staged), Some(a)) = (staging.take(), analysis.as_ref()) {
        let tiff = cfg.outputs.coverage_tiff || a.targets.grid.is_some();
        planner::render::analysis::write_all(
            &mut staged,
            &ds,
            a,
            &report,
            cfg.outputs.csv,
            cfg.outputs.geojson,
            tiff,
        )
        .map_err(|e| Exit(3, e.into()))?;
        if let (Some(s), true) = (&speeds, cfg.outputs.csv) {
            let path = staged.dir().join("speeds.csv");
            let bytes = planner::speeds::csv_bytes(s)
                .with_context(|| format!("cannot write {}", path.display()))
                .map_err(|e| Exit(3, e))?;
            staged
                .write("speeds.csv", &bytes)
                .map_err(|e| Exit(3, e.into()))?;
        }
        let dir = staged.dir().to_path_buf();
        let written = staged.commit().map_err(|e| Exit(3, e.into()))?;
        if !args.quiet {
            eprintln!("wrote {} files to {}", written.len(), dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a closed pipe ends the output quietly (see `output::print_stdout`).
fn stdout(text: &str) -> Result<(), Exit> {
    planner::output::print_stdout(text).map_err(|e| Exit(3, e.into()))
}

/// Input warnings on stderr, at most a screenful; `planner validate` lists them all.
fn print_warnings(warnings: &[geodata::Warning]) {
    const SHOWN: usize = 20;
    for w in warnings.iter().take(SHOWN) {
        eprintln!("warning: {w}");
    }
    if warnings.len() > SHOWN {
        eprintln!(
            "warning: … and {} more (`planner validate` lists them all)",
            warnings.len() - SHOWN
        );
    }
}

/// Measured speeds from `--speeds-from` or `[speeds] url`, when either is given.
fn fetch_speeds(
    flag: Option<&str>,
    cfg: &PlannerConfig,
    ds: &geodata::Dataset,
) -> Result<Option<planner::speeds::Speeds>, Exit> {
    let sc = &cfg.speeds;
    let Some(url) = flag.or(sc.url.as_deref()) else {
        return Ok(None);
    };
    planner::speeds::fetch(url, sc, &ds.regions)
        .map(Some)
        .map_err(|e| Exit(4, e.into()))
}

fn run_link(args: link_cli::LinkArgs) -> Result<ExitCode, Exit> {
    let cfg = load_config(args.config.as_ref())?;
    let req = link_cli::request(&args, &cfg).map_err(usage)?;
    // Coordinates need terrain: the configured inputs' DEM, or the embedded one without a
    // config.
    let ds = if req.from.is_some() {
        Some(planner::inputs::load_unchecked(&cfg.inputs, &cfg.base_dir).map_err(usage)?)
    } else {
        None
    };
    let report =
        planner::link::run(&req, ds.as_ref().and_then(|d| d.dem.as_ref())).map_err(usage)?;
    if let Some(out) = &args.out {
        let svg =
            planner::render::profile_svg::profile_svg(&report).map_err(|e| usage(e.into()))?;
        link_cli::write_atomic(out, svg.as_bytes())
            .with_context(|| format!("cannot write the profile drawing {}", out.display()))
            .map_err(|e| Exit(3, e))?;
    }
    stdout(&planner::render::link::render(&report, args.json))?;
    Ok(ExitCode::SUCCESS)
}

fn run_validate(args: ValidateArgs) -> Result<ExitCode, Exit> {
    let mut text = String::new();
    let cfg = match args.config.as_ref() {
        Some(p) => match PlannerConfig::load(p) {
            Ok(c) => c,
            Err(e) => {
                stdout(&format!("{e}\n"))?;
                return Ok(ExitCode::from(1));
            }
        },
        None => PlannerConfig::default(),
    };
    let dem_required = analyze::build_model(&cfg, None)
        .map_err(usage)?
        .needs_terrain();
    // The one input check `analyze`, `plan` and `report` run too.
    let (ds, report) = planner::inputs::load_and_check(&analyze::input_options(&cfg, dem_required));
    for w in &report.warnings {
        text.push_str(&format!("warning: {w}\n"));
    }
    for e in &report.errors {
        text.push_str(&format!("error: {e}\n"));
    }
    let name = ds.as_ref().map(|d| d.name.clone()).unwrap_or_default();
    let code = if report.errors.is_empty() {
        let s = planner::summary::summarize(ds.as_ref().expect("no errors means a dataset"));
        text.push_str(&format!(
            "ok: {} — {} regions, {} settlements, {:.1} road km, {} sites; {} warning(s)\n",
            s.name,
            s.regions,
            s.settlements,
            s.road_km,
            s.sites,
            report.warnings.len()
        ));
        ExitCode::SUCCESS
    } else {
        text.push_str(&format!(
            "{} problem(s), {} warning(s) in {}\n",
            report.errors.len(),
            report.warnings.len(),
            if name.is_empty() { "the inputs" } else { &name }
        ));
        ExitCode::from(1)
    };
    stdout(&text)?;
    Ok(code)
}

/// `planner plan`: its flags, how they override `[plan]`, and the run.
mod plan_cli {
    use std::path::PathBuf;

    use planner::config::PlannerConfig;
    use planner::plan::CoverageTargets;
    use planner::planning::{load, plan, PlanOptions};

    /// `planner plan` arguments.
    #[derive(clap::Args, Debug, Clone)]
    pub struct PlanArgs {
        /// Planner config file (TOML) with optional [plan] section; default: embedded dataset.
        #[arg(long, value_name = "FILE")]
        pub config: Option<PathBuf>,
        /// Write plan.json, plan_sites.csv/.geojson and plan_curve.csv here.
        #[arg(long, value_name = "DIR")]
        pub out: Option<PathBuf>,
        /// Print the plan as JSON on stdout.
        #[arg(long)]
        pub json: bool,
        /// No progress bars.
        #[arg(long, short)]
        pub quiet: bool,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long, value_name = "N")]
        pub threads: Option<usize>,
        /// Candidate CSV (id,lon,lat,type[,height_m]); overrides plan.candidates_csv.
        #[arg(long, value_name = "CSV")]
        pub candidates: Option<PathBuf>,
        /// Stop after N sites (overrides plan.max_sites).
        #[arg(long, value_name = "N")]
        pub max_sites: Option<usize>,
        /// Total cost cap (overrides plan.budget).
        #[arg(long, value_name = "AMOUNT")]
        pub budget: Option<f64>,
        /// Target share of settlements with mobile Internet, % (overrides plan.targets).
        #[arg(long, value_name = "PCT")]
        pub target_settlements_pct: Option<f64>,
        /// Target share of population with mobile Internet, %.
        #[arg(long, value_name = "PCT")]
        pub target_population_pct: Option<f64>,
        /// Target share of international highway km with mobile Internet, %.
        #[arg(long, value_name = "PCT")]
        pub target_highway_pct: Option<f64>,
    }

    /// Applies command-line overrides to the `[plan]` table.
    fn apply_overrides(cfg: &mut PlannerConfig, a: &PlanArgs) -> anyhow::Result<()> {
        let pc = &mut cfg.plan;
        if let Some(c) = &a.candidates {
            // Relative to the working directory, like every other path on the command line.
            pc.candidates_csv = Some(std::path::absolute(c)?);
        }
        if a.max_sites.is_some() {
            pc.max_sites = a.max_sites;
        }
        if a.budget.is_some() {
            pc.budget = a.budget;
        }
        if a.target_settlements_pct.is_some()
            || a.target_population_pct.is_some()
            || a.target_highway_pct.is_some()
        {
            pc.targets = CoverageTargets {
                settlements_pct: a.target_settlements_pct,
                population_pct: a.target_population_pct,
                international_road_km_pct: a.target_highway_pct,
            };
        }
        let p = pc.problems();
        if !p.is_empty() {
            anyhow::bail!(
                "plan settings have {} problem(s):\n  - {}",
                p.len(),
                p.join("\n  - ")
            );
        }
        Ok(())
    }

    /// Runs `planner plan`. Errors are usage/input errors (exit code 2) unless they come from
    /// writing outputs ([`planner::output::OutputError`], exit code 3).
    pub fn run(args: &PlanArgs) -> anyhow::Result<()> {
        if args.threads == Some(0) {
            anyhow::bail!("--threads must be at least 1");
        }
        let (mut cfg, ds, base) = load(args.config.as_deref())?;
        apply_overrides(&mut cfg, args)?;
        // Before the computation, so an unwritable folder fails fast.
        let mut staging = args
            .out
            .as_deref()
            .map(planner::output::Staging::open)
            .transpose()?;
        let opts = PlanOptions {
            threads: args.threads.or(cfg.analysis.threads),
            progress: planner::coverage::progress_wanted(args.quiet),
        };
        let plan = plan(&ds, &cfg, &base, &opts)?;
        if args.json {
            let mut text =
                serde_json::to_string_pretty(&plan.to_json()).expect("JSON values serialize");
            text.push('\n');
            planner::output::print_stdout(&text)?;
        } else {
            planner::output::print_stdout(&plan.render_text())?;
        }
        if let Some(mut out) = staging.take() {
            plan.stage(&mut out)?;
            let dir = out.dir().to_path_buf();
            let w = out.commit()?;
            if !args.quiet {
                eprintln!("wrote {} files to {}", w.len(), dir.display());
            }
        }
        Ok(())
    }
}

/// `planner report`: its flags and the run (analyses, then the files).
mod report_cli {
    use std::path::PathBuf;

    use anyhow::Context;
    use geodata::Dataset;
    use planner::config::PlannerConfig;
    use planner::planning::{self, PlanOptions};
    use planner::render::report::write;
    use planner::report::build;
    use planner::speeds::{self, Speeds};

    /// `planner report` arguments.
    #[derive(clap::Args, Debug, Clone)]
    pub struct ReportArgs {
        /// Planner config file (TOML) with optional [plan], [broadband], [invest]; default: embedded.
        #[arg(long, value_name = "FILE")]
        pub config: Option<PathBuf>,
        /// Folder for report.html, coverage.gpkg and coverage.kmz.
        #[arg(long, value_name = "DIR")]
        pub out: PathBuf,
        /// No progress bars or messages.
        #[arg(long, short)]
        pub quiet: bool,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long, value_name = "N")]
        pub threads: Option<usize>,
        /// Prometheus server (e.g. http://127.0.0.1:9090) to read measured speeds per region from;
        /// overrides `[speeds] url`. Adds a "Measured speeds" section and a `speeds` layer.
        #[arg(long, value_name = "URL")]
        pub speeds_from: Option<String>,
    }

    /// Measured speeds from `flag` or `[speeds] url`, when either is given. A failure to read them
    /// is returned as a bare [`speeds::SpeedsError`] so the binary can map it to its own exit code.
    fn fetch_speeds(
        flag: Option<&str>,
        cfg: &PlannerConfig,
        ds: &Dataset,
    ) -> anyhow::Result<Option<Speeds>> {
        let sc = &cfg.speeds;
        let Some(url) = flag.or(sc.url.as_deref()) else {
            return Ok(None);
        };
        Ok(Some(speeds::fetch(url, sc, &ds.regions)?))
    }

    /// Runs `planner report`. Write failures are [`planner::output::OutputError`] (exit code 3),
    /// failures to read measured speeds [`speeds::SpeedsError`] (exit code 4).
    pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
        if args.threads == Some(0) {
            anyhow::bail!("--threads must be at least 1");
        }
        let (cfg, ds, base) = planning::load(args.config.as_deref())?;
        let opts = PlanOptions {
            threads: args.threads.or(cfg.analysis.threads),
            progress: planner::coverage::progress_wanted(args.quiet),
        };
        // Before the analyses, so an unreachable Prometheus fails fast.
        let speeds = fetch_speeds(args.speeds_from.as_deref(), &cfg, &ds)?;
        if let (Some(s), false) = (&speeds, args.quiet) {
            for w in &s.warnings {
                eprintln!("warning: {w}");
            }
        }
        let mut data = build(&ds, &cfg, &base, &opts).context("report analyses failed")?;
        data.speeds = speeds;
        let written = write(&args.out, &ds, &data)?;
        if !args.quiet {
            for p in written {
                eprintln!("wrote {}", p.display());
            }
        }
        Ok(())
    }
}

/// `planner link`: its flags and how they combine with `--config` into a link request.
mod link_cli {
    use std::path::{Path, PathBuf};

    use planner::config::PlannerConfig;
    use planner::coverage::propagation::diffraction::DiffractionMethod;
    use planner::coverage::propagation::itm::{Climate, ItmConfig, Polarization, VariabilityMode};
    use planner::link::{parse_lat_lon, LatLon, LinkRequest};

    /// Parses a config spelling (`continental_temperate`, `vertical`, …) of a serde enum.
    fn parse_enum<T: serde::de::DeserializeOwned>(s: &str, accepted: &str) -> Result<T, String> {
        serde_json::from_value(serde_json::Value::String(s.trim().to_string()))
            .map_err(|_| format!("`{s}` is not one of {accepted}"))
    }

    fn parse_climate(s: &str) -> Result<Climate, String> {
        parse_enum(s, "equatorial, continental_subtropical, maritime_subtropical, desert, continental_temperate, maritime_temperate_over_land, maritime_temperate_over_sea")
    }

    fn parse_polarization(s: &str) -> Result<Polarization, String> {
        parse_enum(s, "vertical, horizontal")
    }

    fn parse_variability(s: &str) -> Result<VariabilityMode, String> {
        parse_enum(s, "single_message, accidental, mobile, broadcast")
    }

    fn parse_diffraction(s: &str) -> Result<DiffractionMethod, String> {
        DiffractionMethod::parse(s)
            .ok_or_else(|| format!("`{s}` is not one of deygout, epstein_peterson, single_edge"))
    }

    /// Command-line arguments of `planner link`. Flags override `--config`; without either the
    /// defaults of `[model]` (`auto`, k = 4/3, Deygout), `[model.itm]` and `[budget]` apply.
    #[derive(Debug, Clone, clap::Args)]
    pub struct LinkArgs {
        /// Planner config (TOML): its [model] (with [model.itm], [model.auto]) and [budget]
        /// apply, and for --from/--to its inputs' DEM (the embedded one by default).
        #[arg(long, value_name = "FILE")]
        pub config: Option<PathBuf>,
        /// Transmitter position as LAT,LON (decimal degrees).
        #[arg(long, value_name = "LAT,LON", value_parser = parse_lat_lon, requires = "to", conflicts_with = "profile")]
        pub from: Option<LatLon>,
        /// Receiver position as LAT,LON (decimal degrees).
        #[arg(long, value_name = "LAT,LON", value_parser = parse_lat_lon, requires = "from", conflicts_with = "profile")]
        pub to: Option<LatLon>,
        /// Terrain profile CSV with header `distance_m,elevation_m`, transmitter first.
        #[arg(long, value_name = "FILE.csv")]
        pub profile: Option<PathBuf>,
        /// Transmitter antenna height above ground, metres.
        #[arg(long, default_value_t = 30.0)]
        pub tx_height_m: f64,
        /// Receiver antenna height above ground, metres (default: [budget] rx_height_m, 1.5).
        #[arg(long)]
        pub rx_height_m: Option<f64>,
        /// Carrier frequency, MHz.
        #[arg(long)]
        pub freq_mhz: f64,
        /// Transmitter EIRP in the main beam (total carrier power), dBm.
        #[arg(long, default_value_t = 58.0)]
        pub eirp_dbm: f64,
        /// Propagation model (repeatable): auto, itm, terrain, free_space,
        /// hata[_urban_large|_urban_small|_suburban|_open], cost231[_medium_city|_metropolitan].
        /// Default: auto, the configured model, every empirical model applicable to the
        /// frequency, and terrain and itm when terrain is available.
        #[arg(long = "model", value_name = "NAME")]
        pub models: Vec<String>,
        /// Effective Earth radius factor k (default: [model] k_factor, 4/3).
        #[arg(long)]
        pub k_factor: Option<f64>,
        /// Multiple knife-edge method: deygout, epstein_peterson or single_edge.
        #[arg(long, value_parser = parse_diffraction)]
        pub diffraction: Option<DiffractionMethod>,
        /// Most knife edges combined by the terrain model (≥ 1).
        #[arg(long)]
        pub max_edges: Option<usize>,
        /// ITM radio climate: equatorial, continental_subtropical, maritime_subtropical, desert,
        /// continental_temperate, maritime_temperate_over_land, maritime_temperate_over_sea.
        #[arg(long, value_parser = parse_climate)]
        pub climate: Option<Climate>,
        /// ITM surface refractivity at sea level N0, N-units (250..=400).
        #[arg(long, value_name = "N_UNITS")]
        pub n0: Option<f64>,
        /// ITM ground relative permittivity (15 average, 4 poor, 25 good, 81 sea).
        #[arg(long)]
        pub ground_permittivity: Option<f64>,
        /// ITM ground conductivity, S/m (0.005 average, 0.001 poor, 0.02 good, 5 sea).
        #[arg(long)]
        pub ground_conductivity_s_per_m: Option<f64>,
        /// ITM polarisation: vertical or horizontal.
        #[arg(long, value_parser = parse_polarization)]
        pub polarization: Option<Polarization>,
        /// ITM mode of variability: single_message, accidental, mobile or broadcast.
        #[arg(long, value_parser = parse_variability)]
        pub variability_mode: Option<VariabilityMode>,
        /// ITM: drop location variability (mdvar +10).
        #[arg(long)]
        pub no_location_variability: bool,
        /// ITM: drop direct situation variability (mdvar +20).
        #[arg(long)]
        pub no_situation_variability: bool,
        /// ITM reliability: % of time the loss is not exceeded (0 < % < 100).
        #[arg(long)]
        pub reliability_pct: Option<f64>,
        /// ITM confidence: % of situations (0 < % < 100).
        #[arg(long)]
        pub confidence_pct: Option<f64>,
        /// ITM location variability: % of locations (0 < % < 100).
        #[arg(long)]
        pub location_pct: Option<f64>,
        /// Spacing of DEM profile samples, metres (with --from/--to).
        #[arg(long, default_value_t = 30.0)]
        pub step_m: f64,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        pub json: bool,
        /// Also draw the path profile (terrain with Earth curvature, line of sight, first
        /// Fresnel zone, obstructions) as SVG into this file.
        #[arg(long, value_name = "FILE.svg")]
        pub out: Option<PathBuf>,
    }

    /// The request: `--config`'s [model] and [budget], then the flags on top.
    pub fn request(a: &LinkArgs, cfg: &PlannerConfig) -> anyhow::Result<LinkRequest> {
        let mut model = cfg.model.clone();
        if let Some(k) = a.k_factor {
            model.k_factor = k;
        }
        if let Some(m) = a.diffraction {
            model.diffraction = m;
        }
        if let Some(n) = a.max_edges {
            model.max_edges = n;
        }
        let mut itm: ItmConfig = model.itm.clone().unwrap_or_default();
        if let Some(c) = a.climate {
            itm.climate = c;
        }
        if let Some(v) = a.n0 {
            itm.surface_refractivity_n_units = v;
        }
        if let Some(v) = a.ground_permittivity {
            itm.ground_permittivity = v;
        }
        if let Some(v) = a.ground_conductivity_s_per_m {
            itm.ground_conductivity_s_per_m = v;
        }
        if let Some(v) = a.polarization {
            itm.polarization = v;
        }
        if let Some(v) = a.variability_mode {
            itm.variability_mode = v;
        }
        itm.no_location_variability |= a.no_location_variability;
        itm.no_situation_variability |= a.no_situation_variability;
        if let Some(v) = a.reliability_pct {
            itm.reliability_pct = v;
        }
        if let Some(v) = a.confidence_pct {
            itm.confidence_pct = v;
        }
        if let Some(v) = a.location_pct {
            itm.location_pct = v;
        }
        model.itm = Some(itm);
        let mut budget = cfg.budget.clone();
        if let Some(h) = a.rx_height_m {
            budget.rx_height_m = h;
        }
        Ok(LinkRequest {
            from: a.from,
            to: a.to,
            profile: a.profile.clone(),
            tx_height_m: a.tx_height_m,
            rx_height_m: budget.rx_height_m,
            freq_mhz: a.freq_mhz,
            eirp_dbm: a.eirp_dbm,
            models: a.models.clone(),
            model,
            budget,
            step_m: a.step_m,
        })
    }

    /// Writes `bytes` to `path` through a temporary file beside it, so a failure leaves no
    /// half-written drawing.
    pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "profile.svg".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use clap::Parser;

        #[derive(Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            link: LinkArgs,
        }

        #[test]
        fn clap_arguments_parse() {
            let c = Cli::try_parse_from([
                "link",
                "--from",
                "41.3,69.2",
                "--to",
                "41.4,69.3",
                "--freq-mhz",
                "900",
                "--model",
                "hata",
                "--model",
                "free_space",
                "--json",
            ])
            .unwrap();
            assert_eq!(
                c.link.from,
                Some(LatLon {
                    lat: 41.3,
                    lon: 69.2
                })
            );
            assert_eq!(c.link.models, ["hata", "free_space"]);
            assert!(c.link.json);
            assert_eq!(c.link.rx_height_m, None);
            let e = Cli::try_parse_from(["link", "--from", "41.3,69.2", "--freq-mhz", "900"])
                .unwrap_err()
                .to_string();
            assert!(e.contains("--to"), "{e}");
            let e = Cli::try_parse_from([
                "link",
                "--from",
                "41.3,69.2",
                "--to",
                "41,69",
                "--profile",
                "p.csv",
                "--freq-mhz",
                "900",
            ])
            .unwrap_err()
            .to_string();
            assert!(e.contains("cannot be used with"), "{e}");
            let e = Cli::try_parse_from([
                "link",
                "--from",
                "141.3,69.2",
                "--to",
                "41,69",
                "--freq-mhz",
                "900",
            ])
            .unwrap_err()
            .to_string();
            assert!(e.contains("latitude 141.3 is outside"), "{e}");
            let e = Cli::try_parse_from(["link", "--freq-mhz", "900", "--climate", "tropical"])
                .unwrap_err()
                .to_string();
            assert!(e.contains("`tropical` is not one of equatorial"), "{e}");
        }

        #[test]
        fn flags_override_the_config_and_every_itm_parameter_is_settable() {
            let cfg = PlannerConfig::parse(
                "[model]\nmodel = \"itm\"\nk_factor = 1.2\n[model.itm]\nclimate = \"desert\"\nreliability_pct = 70.0\n[budget]\nrx_height_m = 2.0\nstrong_margin_db = 6.0\n",
                Path::new("link.toml"),
            )
            .unwrap();
            let c = Cli::try_parse_from([
                "link",
                "--profile",
                "p.csv",
                "--freq-mhz",
                "900",
                "--n0",
                "320",
                "--ground-permittivity",
                "25",
                "--ground-conductivity-s-per-m",
                "0.02",
                "--polarization",
                "horizontal",
                "--variability-mode",
                "mobile",
                "--no-location-variability",
                "--no-situation-variability",
                "--reliability-pct",
                "90",
                "--confidence-pct",
                "80",
                "--location-pct",
                "60",
                "--diffraction",
                "epstein_peterson",
                "--max-edges",
                "2",
            ])
            .unwrap();
            let r = request(&c.link, &cfg).unwrap();
            assert_eq!(r.model.model, "itm");
            assert_eq!(r.model.k_factor, 1.2);
            assert_eq!(r.model.diffraction, DiffractionMethod::EpsteinPeterson);
            assert_eq!(r.model.max_edges, 2);
            let itm = r.model.itm.unwrap();
            assert_eq!(itm.climate, Climate::Desert);
            assert_eq!(itm.surface_refractivity_n_units, 320.0);
            assert_eq!(itm.ground_permittivity, 25.0);
            assert_eq!(itm.ground_conductivity_s_per_m, 0.02);
            assert_eq!(itm.polarization, Polarization::Horizontal);
            assert_eq!(itm.variability_mode, VariabilityMode::Mobile);
            assert!(itm.no_location_variability && itm.no_situation_variability);
            assert_eq!(
                (itm.reliability_pct, itm.confidence_pct, itm.location_pct),
                (90.0, 80.0, 60.0)
            );
            assert_eq!(r.rx_height_m, 2.0);
            assert_eq!(r.budget.strong_margin_db, 6.0);
        }
    }
}
