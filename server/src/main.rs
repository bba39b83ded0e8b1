//! `starling`: reads the configuration, opens the database, serves the console.

use server::config::Config;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    // Server rendering of the larger pages (the template editor) recurses deeper than
    // the default 2 MiB thread stack allows in debug builds; 8 MiB of address space per
    // worker costs nothing until it is touched.
    tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 * 1024 * 1024).build()?.block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    let mut config = Config::load()?;
    // `starling backup <new folder>`: a consistent copy of the SQLite database and the
    // secret key, taken while the server may be running.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("backup") {
        let Some(to) = args.get(2) else { anyhow::bail!("usage: starling backup <new folder>") };
        let done = server::backup(&config, std::path::Path::new(to)).await?;
        println!("Database copied to {}", done.database.display());
        match done.secret_key {
            Some(key) => println!("Secret key copied to {} (keep it with the database: it signs sent links)", key.display()),
            None => println!("The secret key is set in STARLING_SECRET_KEY: keep that value with this backup."),
        }
        return Ok(());
    }
    if std::env::args().any(|a| a == "--demo") {
        config.demo = true;
        config.demo_history = true;
    }
    let filter = EnvFilter::try_from_env("STARLING_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if config.log_format == "json" {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let demo = config.demo;
    let running = server::start(config).await?;
    tracing::info!(addr = %running.addr, "Starling is listening");
    if demo {
        println!("\nStarling is running at http://{}", running.addr);
        println!("Demo logins (demo data only):");
        for login in app::demo::LOGINS.iter() {
            println!("  {:<16} {:<24} {}", login.role.label(), login.email, login.password);
        }
        println!();
    }
    running.task.await?;
    Ok(())
}
