//! The zone-file parser: master files (RFC 1035 section 5) into [`Record`]s.
//!
//! Each entry of a master file (see [`crate::lexer`] for lines, comments, parentheses and
//! quotes) is a directive or a resource record:
//!
//! ```text
//! $ORIGIN example.com.          ; names without a final dot are relative to this
//! $TTL 1h                       ; the default TTL (RFC 2308 section 4)
//! @       IN SOA ns hostmaster ( 2024010101 1h 15m 1w 5m )
//!         IN NS  ns             ; a line starting with a blank keeps the previous owner
//! ns  300 IN A   192.0.2.1      ; TTL and class in either order, both optional
//! www IN 300 AAAA 2001:db8::1
//! $INCLUDE sub.zone sub         ; another file, with its own origin
//! $GENERATE 1-4 host$ A 192.0.2.$
//! ```
//!
//! - `$ORIGIN name` sets the origin; a relative name is taken relative to the current origin.
//!   `@` stands for the origin. The caller's origin is the initial `$ORIGIN`.
//! - `$TTL ttl` sets the TTL of records that give none (RFC 2308). Without `$TTL`, such a record
//!   takes the last TTL written on a record (RFC 1035 section 5.1), else the SOA MINIMUM of a
//!   SOA already read (the SOA itself included), as BIND does; else it is an error. TTLs may use
//!   units (`1h30m`) and must not exceed 2^31 - 1 (RFC 2181 section 8). `$TTL` stays in force
//!   after an `$INCLUDE`d file ends.
//! - `$INCLUDE file [origin]` reads another file, named relative to the directory of the file
//!   that includes it; with *origin*, that file starts with it as its origin. Origin and owner
//!   changes made in the included file do not leak back to the including one (RFC 1035 section
//!   5.1). Includes nest at most [`MAX_INCLUDE_DEPTH`] deep and a file may not include itself,
//!   directly or not.
//! - `$GENERATE` is BIND's, see [`crate::generate`].
//! - Only class IN is accepted; any other class is an error naming it. Query-only types (ANY,
//!   AXFR, OPT, ...) are errors too.
//!
//! RDATA is read by [`wire::rdata::from_text`], which knows each type's presentation form and the
//! generic `\# length hex` form (RFC 3597 section 5).
//!
//! # Errors
//!
//! Every error names file, line and column ([`ParseError`]). The parser does not stop at the
//! first error: it yields it and goes on with the next entry, so a checker can show several at
//! once. A zone with any error must be rejected as a whole; callers that only want to know
//! whether it loads stop at the first `Err`.
//!
//! # Cost
//!
//! A file is read into memory once; fields borrow it, the per-entry field list is reused, and
//! each record allocates only its RDATA.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wire::text::{Field, parse_ttl};
use wire::{Class, Name, NameRef, RType};

use crate::generate::{Directive, Generator};
use crate::lexer::{Entry, Lexer, Pos};
use crate::record::{Loc, Record};

/// How deep `$INCLUDE`s may nest: a file, a file it includes, and so on to this many levels.
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// Largest TTL (RFC 2181 section 8).
pub const MAX_TTL: u32 = (1 << 31) - 1;

/// An error in a zone file, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Where the problem is.
    pub loc: Loc,
    /// What was expected or what is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.loc, self.message)
    }
}

impl std::error::Error for ParseError {}

/// A location in `file`.
pub(crate) fn loc(file: &Arc<Path>, pos: Pos) -> Loc {
    Loc {
        file: file.clone(),
        line: pos.line,
        column: pos.column,
    }
}

/// Largest zone file (or included file) read: 2 GiB, far above any real zone.
pub const MAX_FILE_BYTES: u64 = 2 << 30;

/// Reads a whole zone file, refusing what is not a regular file (a device or FIFO would never
/// end) and files over [`MAX_FILE_BYTES`].
fn read_zone_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, Read};
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Error::other("not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(Error::other(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::other(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    Ok(data)
}

/// Reads a zone file. The file is read when this is called; the records are parsed as the
/// iterator is advanced. `origin` is the initial `$ORIGIN`.
pub fn parse_file(path: &Path, origin: NameRef<'_>) -> Parser<'static> {
    let file: Arc<Path> = Arc::from(path);
    match read_zone_file(path) {
        Ok(data) => {
            let canonical = std::fs::canonicalize(path).ok();
            Parser::new(Source::new(
                Cow::Owned(data),
                file,
                canonical,
                origin.to_name(),
                None,
            ))
        }
        Err(e) => {
            let mut p = Parser::new_empty();
            p.pending = Some(ParseError {
                loc: loc(&file, Pos { line: 1, column: 1 }),
                message: format!("cannot read the zone file: {e}"),
            });
            p
        }
    }
}

/// Parses zone-file text held in memory; `file_label` names it in errors and locations, and
/// its directory is where `$INCLUDE`d files are looked for.
pub fn parse_str<'a>(
    text: &'a (impl AsRef<[u8]> + ?Sized),
    file_label: &Path,
    origin: NameRef<'_>,
) -> Parser<'a> {
    let file: Arc<Path> = Arc::from(file_label);
    Parser::new(Source::new(
        Cow::Borrowed(text.as_ref()),
        file,
        None,
        origin.to_name(),
        None,
    ))
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

/// Reads records from a zone file and the files it includes: an iterator of records, in file
/// order, with an `Err` for each entry that could not be read.
#[derive(Debug)]
pub struct Parser<'a> {
    /// The file being read last; the files that include it before it.
    stack: Vec<Source<'a>>,
    ttl: TtlRules,
    generator: Option<Generator>,
    entry: Entry<'static>,
    pending: Option<ParseError>,
}

/// One file being read.
#[derive(Debug)]
struct Source<'a> {
    data: Cow<'a, [u8]>,
    state: FileState,
}

/// What each file has of its own: its place, its origin and its last owner.
#[derive(Debug)]
struct FileState {
    file: Arc<Path>,
    /// The resolved path, to find include cycles (`None` for text not read from a file).
    canonical: Option<PathBuf>,
    lexer: Lexer,
    origin: Name,
    owner: Option<Name>,
}

impl<'a> Source<'a> {
    fn new(
        data: Cow<'a, [u8]>,
        file: Arc<Path>,
        canonical: Option<PathBuf>,
        origin: Name,
        owner: Option<Name>,
    ) -> Self {
        Source {
            data,
            state: FileState {
                file,
                canonical,
                lexer: Lexer::new(),
                origin,
                owner,
            },
        }
    }
}

/// The TTL defaults in force (see the module docs).
#[derive(Debug, Default)]
struct TtlRules {
    /// From `$TTL`.
    default: Option<u32>,
    /// The last TTL written on a record.
    last: Option<u32>,
    /// The MINIMUM field of the last SOA read.
    soa_minimum: Option<u32>,
}

impl TtlRules {
    /// The TTL of a record that wrote `explicit` (or none); `soa_minimum` is the record's own
    /// MINIMUM when it is a SOA.
    fn resolve(&mut self, explicit: Option<u32>, soa_minimum: Option<u32>) -> Option<u32> {
        if soa_minimum.is_some() {
            self.soa_minimum = soa_minimum;
        }
        match explicit {
            Some(ttl) => {
                self.last = Some(ttl);
                Some(ttl)
            }
            None => self.default.or(self.last).or(self.soa_minimum),
        }
    }
}

/// What one entry asks of the parser.
enum Step {
    Record(Record),
    Nothing,
    Include(Source<'static>),
    Generate(Generator),
}

/// The part of a record entry between owner and RDATA.
struct Head {
    ttl: Option<u32>,
    rtype: RType,
    /// Index of the first RDATA field.
    rdata_at: usize,
}

impl<'a> Parser<'a> {
    fn new(source: Source<'a>) -> Self {
        let mut p = Parser::new_empty();
        p.stack.push(source);
        p
    }

    fn new_empty() -> Self {
        Parser {
            stack: Vec::new(),
            ttl: TtlRules::default(),
            generator: None,
            entry: Entry::default(),
            pending: None,
        }
    }

    /// Reads everything, returning the records or every error found.
    pub fn collect_all(self) -> Result<Vec<Record>, Vec<ParseError>> {
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for item in self {
            match item {
                Ok(r) => records.push(r),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(records)
        } else {
            Err(errors)
        }
    }

    fn step(&mut self, st: &mut FileState, e: &Entry<'_>) -> Result<Step, ParseError> {
        let first = e.fields.first().copied().unwrap_or(Field::plain(b""));
        if !e.continues_owner && !first.quoted && first.text.first() == Some(&b'$') {
            return self.directive(st, e);
        }
        self.record(st, e).map(Step::Record)
    }

    fn error(st: &FileState, pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError {
            loc: loc(&st.file, pos),
            message: message.into(),
        }
    }

    fn record(&mut self, st: &mut FileState, e: &Entry<'_>) -> Result<Record, ParseError> {
        let owner = if e.continues_owner {
            st.owner.clone().ok_or_else(|| {
                Self::error(
                    st,
                    e.pos(0),
                    "no owner name: this line starts with a blank, but no record came before it",
                )
            })?
        } else {
            let text = e.fields.first().map_or(&b""[..], |f| f.text);
            let name = Name::from_text(text, Some(st.origin.as_ref()))
                .map_err(|m| Self::error(st, e.pos(0), format!("bad owner name: {m}")))?;
            st.owner = Some(name.clone());
            name
        };
        let head = Self::head(st, e, usize::from(!e.continues_owner))?;
        let mut rdata = Vec::new();
        let fields = e.fields.get(head.rdata_at..).unwrap_or(&[]);
        wire::rdata::from_text(head.rtype, fields, st.origin.as_ref(), &mut rdata).map_err(
            |m| {
                Self::error(
                    st,
                    e.pos(head.rdata_at + m.field),
                    format!("bad {} RDATA: {}", head.rtype, m.message),
                )
            },
        )?;
        let soa_minimum = (head.rtype == RType::SOA)
            .then(|| rdata.last_chunk::<4>().map(|b| u32::from_be_bytes(*b)))
            .flatten();
        let ttl = self.ttl.resolve(head.ttl, soa_minimum).ok_or_else(|| {
            Self::error(
                st,
                e.pos(head.rdata_at - 1),
                "no TTL for this record: give it one, or set a default with $TTL",
            )
        })?;
        Ok(Record {
            owner,
            class: Class::IN,
            rtype: head.rtype,
            ttl,
            rdata,
            loc: Some(loc(&st.file, e.pos(0))),
        })
    }

    /// Reads `[ttl] [class] type` (TTL and class in either order) from field `i` on.
    fn head(st: &FileState, e: &Entry<'_>, mut i: usize) -> Result<Head, ParseError> {
        let mut ttl = None;
        let mut class = None;
        let f = loop {
            let Some(&f) = e.fields.get(i) else {
                return Err(Self::error(st, e.pos(i), "expected a record type"));
            };
            if f.quoted {
                break f;
            }
            if ttl.is_none() && f.text.first().is_some_and(u8::is_ascii_digit) {
                ttl = Some(Self::ttl_value(st, e.pos(i), f.text)?);
                i += 1;
                continue;
            }
            if class.is_none()
                && let Some(c) = Class::from_text(f.text)
            {
                if c != Class::IN {
                    return Err(Self::error(
                        st,
                        e.pos(i),
                        format!("class {c} is not supported: only IN"),
                    ));
                }
                class = Some(c);
                i += 1;
                continue;
            }
            break f;
        };
        let rtype = RType::from_text(f.text)
            .filter(|_| !f.quoted)
            .ok_or_else(|| {
                Self::error(
                    st,
                    e.pos(i),
                    format!("expected a record type, found '{}'", shorten(f.text)),
                )
            })?;
        if rtype.is_meta() {
            return Err(Self::error(
                st,
                e.pos(i),
                format!("{rtype} is a query type and cannot appear in a zone"),
            ));
        }
        Ok(Head {
            ttl,
            rtype,
            rdata_at: i + 1,
        })
    }

    fn ttl_value(st: &FileState, pos: Pos, text: &[u8]) -> Result<u32, ParseError> {
        match parse_ttl(text) {
            Some(ttl) if ttl <= MAX_TTL => Ok(ttl),
            Some(ttl) => Err(Self::error(
                st,
                pos,
                format!("TTL {ttl} is above the largest, {MAX_TTL} (RFC 2181 section 8)"),
            )),
            None => Err(Self::error(
                st,
                pos,
                format!(
                    "bad TTL '{}': expected seconds, or a duration like 1h30m",
                    shorten(text)
                ),
            )),
        }
    }

    fn directive(&mut self, st: &mut FileState, e: &Entry<'_>) -> Result<Step, ParseError> {
        let (Some(first), args) = (e.fields.first(), e.fields.get(1..).unwrap_or(&[])) else {
            return Ok(Step::Nothing);
        };
        let name = first.text;
        let arg = |i: usize| args.get(i).map_or(&b""[..], |f| f.text);
        let arity = |min: usize, max: usize, usage: &str| {
            if args.len() < min {
                Err(Self::error(
                    st,
                    e.pos(e.fields.len()),
                    format!("expected {usage}"),
                ))
            } else if args.len() > max {
                Err(Self::error(
                    st,
                    e.pos(max + 1),
                    format!("unexpected field: the form is {usage}"),
                ))
            } else {
                Ok(())
            }
        };
        if name.eq_ignore_ascii_case(b"$ORIGIN") {
            arity(1, 1, "$ORIGIN name")?;
            st.origin = Name::from_text(arg(0), Some(st.origin.as_ref()))
                .map_err(|m| Self::error(st, e.pos(1), format!("bad $ORIGIN name: {m}")))?;
            Ok(Step::Nothing)
        } else if name.eq_ignore_ascii_case(b"$TTL") {
            arity(1, 1, "$TTL ttl")?;
            self.ttl.default = Some(Self::ttl_value(st, e.pos(1), arg(0))?);
            Ok(Step::Nothing)
        } else if name.eq_ignore_ascii_case(b"$INCLUDE") {
            arity(1, 2, "$INCLUDE file [origin]")?;
            self.include(st, e).map(Step::Include)
        } else if name.eq_ignore_ascii_case(b"$GENERATE") {
            arity(
                4,
                usize::MAX,
                "$GENERATE range owner [ttl] [class] type rdata",
            )?;
            let head = Self::head(st, e, 3)?;
            let ttl = self.ttl.resolve(head.ttl, None).ok_or_else(|| {
                Self::error(
                    st,
                    e.pos(head.rdata_at - 1),
                    "no TTL for these records: give them one, or set a default with $TTL",
                )
            })?;
            let d = Directive {
                entry: e,
                owner_field: 2,
                rdata_field: head.rdata_at,
                ttl,
                rtype: head.rtype,
            };
            Generator::new(d, st.origin.clone(), &st.file).map(Step::Generate)
        } else {
            Err(Self::error(
                st,
                e.pos(0),
                format!(
                    "unknown directive '{}': expected $ORIGIN, $TTL, $INCLUDE or $GENERATE",
                    shorten(name)
                ),
            ))
        }
    }

    fn include(&mut self, st: &FileState, e: &Entry<'_>) -> Result<Source<'static>, ParseError> {
        // `self.stack` holds the files above this one: its length is this file's depth.
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(Self::error(
                st,
                e.pos(0),
                format!("$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH} files"),
            ));
        }
        let name = std::str::from_utf8(e.fields.get(1).map_or(&b""[..], |f| f.text))
            .map_err(|_| Self::error(st, e.pos(1), "the $INCLUDE file name is not UTF-8"))?;
        let relative = Path::new(name);
        let path = match st.file.parent() {
            Some(dir) if relative.is_relative() => dir.join(relative),
            _ => relative.to_path_buf(),
        };
        let origin = match e.fields.get(2) {
            Some(f) => Name::from_text(f.text, Some(st.origin.as_ref()))
                .map_err(|m| Self::error(st, e.pos(2), format!("bad $INCLUDE origin: {m}")))?,
            None => st.origin.clone(),
        };
        let data = read_zone_file(&path).map_err(|err| {
            Self::error(
                st,
                e.pos(1),
                format!("cannot read {}: {err}", path.display()),
            )
        })?;
        let canonical = std::fs::canonicalize(&path).ok();
        let includers = self
            .stack
            .iter()
            .map(|s| &s.state)
            .chain(std::iter::once(st));
        if let Some(c) = &canonical
            && includers
                .into_iter()
                .any(|s| s.canonical.as_ref() == Some(c))
        {
            return Err(Self::error(
                st,
                e.pos(1),
                format!("$INCLUDE cycle: {} is already being read", path.display()),
            ));
        }
        Ok(Source::new(
            Cow::Owned(data),
            Arc::from(path),
            canonical,
            origin,
            st.owner.clone(),
        ))
    }
}

impl Iterator for Parser<'_> {
    type Item = Result<Record, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            return Some(Err(e));
        }
        loop {
            if let Some(g) = &mut self.generator {
                match g.next_record() {
                    Some(item) => return Some(item),
                    None => self.generator = None,
                }
            }
            let mut source = self.stack.pop()?;
            let Source { data, state } = &mut source;
            let mut entry = std::mem::take(&mut self.entry).recycle();
            let step = match state.lexer.next_entry(data, &mut entry) {
                // The file is done: the one that included it goes on, as it was.
                Ok(false) => {
                    self.entry = entry.recycle();
                    continue;
                }
                Ok(true) => self.step(state, &entry),
                Err(err) => Err(Self::error(state, err.pos, err.message)),
            };
            self.entry = entry.recycle();
            self.stack.push(source);
            match step {
                Ok(Step::Record(r)) => return Some(Ok(r)),
                Ok(Step::Nothing) => {}
                Ok(Step::Include(s)) => self.stack.push(s),
                Ok(Step::Generate(g)) => self.generator = Some(g),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// Text for an error message: lossy UTF-8, cut at 40 characters.
fn shorten(text: &[u8]) -> String {
    let s = String::from_utf8_lossy(text);
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s.into_owned()
    }
}

#[cfg(test)]
mod tests;
