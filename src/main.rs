//! Keeper's entry point: it only wires. Configuration comes from `config`, the
//! store from `db`, each subcommand lives in `cli` (moving whole databases in `transfer`), the
//! bot in `bot`.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use keeper::{
    cli,
    config::{Command, Config, LogFormat},
    transfer,
};

fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is worth saying, once.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("keeper: .env: {err}");
        return ExitCode::from(2);
    }
    let config = match Config::try_parse() {
        Ok(config) => config,
        Err(err) => return cli::clap_exit(err),
    };
    let filter = match EnvFilter::try_new(config.log_filter()) {
        Ok(filter) => filter,
        Err(err) => {
            eprintln!("keeper: KEEPER_LOG: not a valid log filter ({err})");
            return ExitCode::from(2);
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        // Colours on a terminal only: a log file or journal gets plain text.
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().init(),
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads())
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("keeper: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match config.command.clone().unwrap_or(Command::Run) {
            Command::Run => cli::run(&config).await,
            Command::Demo => cli::demo().await,
            Command::Migrate => cli::migrate(&config).await,
            Command::Check => cli::check(&config).await,
            Command::Backup { ref out } => cli::backup(&config, out).await,
            Command::Restore {
                ref file,
                ref to,
                force,
            } => transfer::restore(&config, file, to.as_ref(), force).await,
            Command::Export { ref out } => transfer::export(&config, out).await,
            Command::Import {
                ref file,
                ref to,
                force,
            } => transfer::restore(&config, file, to.as_ref(), force).await,
            Command::ImportJson {
                ref file,
                format,
                guild,
                dry_run,
                ref to,
            } => keeper::import_json::run(&config, file, format, guild, dry_run, to.as_ref()).await,
            Command::ForgetUser { user } => cli::forget_user(&config, user).await,
            Command::Copy {
                ref from,
                ref to,
                force,
            } => transfer::copy(&config, from, to, force).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keeper: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
