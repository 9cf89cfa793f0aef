//! Signs a zone file, for benchmarks and for looking at the output:
//!
//! ```text
//! cargo run --release -p dnssec --example sign-zone -- ORIGIN FILE [-o OUT] [--alg 13|15]
//!     [--csk] [--nsec3] [--threads N] [--keys DIR]
//! ```
//!
//! Generates a KSK and a ZSK (one CSK with `--csk`) of the algorithm, or reads every key of
//! `--keys DIR` (BIND key files: SEP keys sign the DNSKEY RRset, the others the zone), signs
//! with a validity of 14 days and writes the signed zone to OUT. Prints the times of the
//! parse and of the signing to standard error.

use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use dnssec::{
    Algorithm, DenialChain, KeyUse, Nsec3Params, SignParams, ZoneKey, ZoneRecord, keyfile,
    sign_zone,
};
use wire::Name;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut out: Option<PathBuf> = None;
    let mut alg = Algorithm::EcdsaP256Sha256;
    let mut csk = false;
    let mut nsec3 = false;
    let mut threads = 0;
    let mut key_dir: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-o" => out = args.next().map(PathBuf::from),
            "--alg" => {
                alg = match args.next().as_deref() {
                    Some("13") => Algorithm::EcdsaP256Sha256,
                    Some("15") => Algorithm::Ed25519,
                    other => return Err(format!("--alg {other:?}: use 13 or 15")),
                }
            }
            "--csk" => csk = true,
            "--nsec3" => nsec3 = true,
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--threads N")?;
            }
            "--keys" => key_dir = args.next().map(PathBuf::from),
            _ => positional.push(arg),
        }
    }
    let [origin, file] = &positional[..] else {
        return Err(
            "usage: sign-zone ORIGIN FILE [-o OUT] [--alg 13|15] [--csk] [--nsec3] \
                    [--threads N] [--keys DIR]"
                .into(),
        );
    };
    let origin: Name = origin.parse().map_err(|e| format!("{origin}: {e}"))?;

    let start = Instant::now();
    let records: Vec<ZoneRecord> = zone::parse_file(file.as_ref(), origin.as_ref())
        .collect_all()
        .map_err(|e| format!("{} parse errors, first: {:?}", e.len(), e.first()))?
        .into_iter()
        .map(|r| ZoneRecord {
            owner: r.owner,
            rtype: r.rtype,
            ttl: r.ttl,
            rdata: r.rdata,
        })
        .collect();
    let parsed = start.elapsed();
    let count = records.len();

    let keys: Vec<ZoneKey> = match &key_dir {
        Some(dir) => keyfile::read_dir(dir)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(_, k)| k.key)
            .collect(),
        None if csk => vec![ZoneKey::generate(alg, true).map_err(|e| e.to_string())?],
        None => vec![
            ZoneKey::generate(alg, true).map_err(|e| e.to_string())?,
            ZoneKey::generate(alg, false).map_err(|e| e.to_string())?,
        ],
    };
    let single = keys.len() == 1;
    let uses: Vec<KeyUse<'_>> = keys
        .iter()
        .map(|key| KeyUse {
            key,
            publish: true,
            sign_zone: single || !key.is_sep(),
            sign_keys: single || key.is_sep(),
            cds: false,
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let mut params = SignParams::new(now, 14 * 86_400);
    params.threads = threads;
    if nsec3 {
        params.denial = DenialChain::Nsec3(Nsec3Params::default());
    }
    let start = Instant::now();
    let signed = sign_zone(&origin, records, &uses, &params, None).map_err(|e| e.to_string())?;
    let signing = start.elapsed();
    eprintln!(
        "records {count} parse {:.3} s sign {:.3} s signatures {} output records {}",
        parsed.as_secs_f64(),
        signing.as_secs_f64(),
        signed.signed,
        signed.records.len()
    );
    if let Some(out) = out {
        let mut text = String::with_capacity(signed.records.len() * 100);
        for r in &signed.records {
            text.push_str(&r.to_string());
            text.push('\n');
        }
        std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}
