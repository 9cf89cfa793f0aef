//! Any bytes as what a DNS over HTTPS client sends and gets: the query string of a GET (its
//! parameters, the JSON form's `name` and `type`) never panics, and any bytes as a response
//! can be given a cache lifetime and turned into the JSON form without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use transport::doh::{json, max_age, parse_params};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(params) = parse_params(&text)
        && let Ok(query) = json::query(&params)
    {
        let _ = (max_age(&query), json::response(&query));
    }
    let _ = (max_age(data), json::response(data));
});
