//! `fieldsync-sim`: the field simulator against a running server.
//!
//! ```text
//! fieldsync-sim --server http://127.0.0.1:8080 --phones phones.csv [--edits 5000] [--rounds 20]
//!               [--households 30] [--seed 7] [--dir /tmp/sim]
//! ```
//! `phones.csv` has the header `username,password,village,reviewer` (reviewer: `true` for a
//! first secretary whose account reads the village's conflicts; one per village). Exits 1 when
//! a phone did not converge or an edit was lost.

use std::path::PathBuf;

use fieldsync_client::sim::{PhoneSpec, SimConfig, run};

fn usage() -> ! {
    eprintln!(
        "usage: fieldsync-sim --server URL --phones FILE.csv [--edits N] [--rounds N] [--households N] [--seed N] [--dir DIR]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut server = None;
    let mut phones_file = None;
    let mut cfg = SimConfig {
        base_url: String::new(),
        phones: Vec::new(),
        dir: std::env::temp_dir().join(format!("fieldsync-sim-{}", std::process::id())),
        households_per_village: 30,
        edits: 5_000,
        rounds: 20,
        offline_chance: 0.15,
        offline_rounds_max: 6,
        lost_answer_chance: 0.1,
        skew_ms_max: 2 * 3_600_000,
        seed: 7,
    };
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        let number = |v: String| v.parse::<usize>().unwrap_or_else(|_| usage());
        match a.as_str() {
            "--server" => server = Some(value()),
            "--phones" => phones_file = Some(PathBuf::from(value())),
            "--edits" => cfg.edits = number(value()),
            "--rounds" => cfg.rounds = number(value()),
            "--households" => cfg.households_per_village = number(value()),
            "--seed" => cfg.seed = number(value()) as u64,
            "--dir" => cfg.dir = PathBuf::from(value()),
            _ => usage(),
        }
    }
    let (Some(server), Some(file)) = (server, phones_file) else {
        usage()
    };
    cfg.base_url = server;
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        eprintln!("{}: {e}", file.display());
        std::process::exit(2)
    });
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let [username, password, village, reviewer] = cols.as_slice() else {
            eprintln!(
                "{}:{}: want username,password,village,reviewer",
                file.display(),
                n + 1
            );
            std::process::exit(2)
        };
        cfg.phones.push(PhoneSpec {
            username: (*username).to_owned(),
            password: (*password).to_owned(),
            village: (*village).to_owned(),
            reviewer: *reviewer == "true",
        });
    }
    if let Err(e) = std::fs::create_dir_all(&cfg.dir) {
        eprintln!("{}: {e}", cfg.dir.display());
        std::process::exit(2)
    }
    match run(&cfg).await {
        Ok(summary) => {
            println!("{summary}");
            if !summary.ok() {
                std::process::exit(1)
            }
        }
        Err(e) => {
            eprintln!("simulation failed: {e}");
            std::process::exit(1)
        }
    }
}
