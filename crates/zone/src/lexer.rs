//! The zone-file lexer: splits master-file text into entries and fields (RFC 1035 section 5.1).
//!
//! A master file is a sequence of *entries*, one per line, each a list of fields separated by
//! blanks (spaces, tabs; a carriage return counts as a blank so CRLF files read the same):
//!
//! - `;` starts a comment that runs to the end of the line;
//! - parentheses group fields across lines: inside `( ... )` a newline is just a blank, so one
//!   entry may span several lines (they may nest; each `)` must close an earlier `(`);
//! - a field in double quotes may hold blanks, `;` and parentheses; the quotes are removed and
//!   [`Field::quoted`] records that they were there; a quoted field must end on its line;
//! - a backslash escapes the byte after it (`\;`, `\ `, `\"`) or starts a `\DDD` decimal escape;
//!   escapes are kept *as written*, since what they mean depends on the field (a name keeps `\.`
//!   inside a label, a character-string makes it a plain dot), see [`wire::text`];
//! - an entry whose first line starts with a blank has no owner field: it reuses the owner of the
//!   previous record ([`Entry::continues_owner`]).
//!
//! Lines holding only blanks and comments are skipped. Fields borrow the input; nothing is
//! copied. The input is bytes, not text: a zone file may hold any byte inside a field, and no
//! input makes the lexer panic.
//!
//! Positions are 1-based lines and byte columns ([`Pos`]). After an error the lexer resumes at
//! the next line, so a caller may report several errors in one pass.

use wire::text::Field;

/// A place in the input: line and byte column, both counted from 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column in bytes, from 1.
    pub column: u32,
}

/// What the lexer could not read, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    /// Where the problem is.
    pub pos: Pos,
    /// What is wrong.
    pub message: &'static str,
}

/// One entry: the fields of one line, or of several lines joined by parentheses.
///
/// The vectors are reused from entry to entry, so lexing a file allocates only while the
/// longest entry grows them.
#[derive(Debug, Default)]
pub struct Entry<'a> {
    /// The fields, escapes as written, quotes removed.
    pub fields: Vec<Field<'a>>,
    /// Where each field starts (for a quoted field, its opening quote).
    pub positions: Vec<Pos>,
    /// The entry's first line starts with a blank: no owner field, the previous owner applies.
    pub continues_owner: bool,
    /// Just past the last field: where a missing field would have been.
    pub end: Pos,
}

impl<'a> Entry<'a> {
    /// Empties the entry and hands its storage over to a new input lifetime.
    #[allow(
        clippy::unnecessary_filter_map,
        reason = "the map changes the lifetime, and there is nothing to map"
    )]
    pub fn recycle<'b>(self) -> Entry<'b> {
        Entry {
            // Collecting an emptied vector reuses its allocation (in-place iteration).
            fields: self.fields.into_iter().filter_map(|_| None).collect(),
            positions: {
                let mut p = self.positions;
                p.clear();
                p
            },
            continues_owner: false,
            end: Pos::default(),
        }
    }

    /// Where field `i` starts, or the entry's end when there is no such field.
    pub fn pos(&self, i: usize) -> Pos {
        self.positions.get(i).copied().unwrap_or(self.end)
    }

    fn clear(&mut self) {
        self.fields.clear();
        self.positions.clear();
        self.continues_owner = false;
        self.end = Pos::default();
    }

    fn push(&mut self, field: Field<'a>, pos: Pos) {
        self.fields.push(field);
        self.positions.push(pos);
    }
}

/// The lexer's place in one input. It does not hold the input, so a parser can keep lexers for
/// several files (`$INCLUDE`) beside the bytes they read.
#[derive(Clone, Debug)]
pub struct Lexer {
    pos: usize,
    line: u32,
    line_start: usize,
}

impl Default for Lexer {
    fn default() -> Self {
        Lexer::new()
    }
}

impl Lexer {
    /// A lexer at the start of an input.
    pub fn new() -> Lexer {
        Lexer {
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// The position of byte `at` of the current line.
    fn pos_of(&self, at: usize) -> Pos {
        let column = at.saturating_sub(self.line_start).saturating_add(1);
        Pos {
            line: self.line,
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }

    fn newline(&mut self) {
        self.pos += 1;
        self.line = self.line.saturating_add(1);
        self.line_start = self.pos;
    }

    /// Skips to the start of the next line (error recovery).
    fn skip_line(&mut self, input: &[u8]) {
        while let Some(&c) = input.get(self.pos) {
            if c == b'\n' {
                self.newline();
                return;
            }
            self.pos += 1;
        }
    }

    /// Reads the next non-empty entry of `input` into `entry`. Returns `Ok(false)` at the end of
    /// the input. `input` must be the same bytes on every call.
    pub fn next_entry<'a>(
        &mut self,
        input: &'a [u8],
        entry: &mut Entry<'a>,
    ) -> Result<bool, LexError> {
        entry.clear();
        let result = self.read_entry(input, entry);
        if result.is_err() {
            self.skip_line(input);
            entry.clear();
        }
        result
    }

    fn read_entry<'a>(&mut self, input: &'a [u8], entry: &mut Entry<'a>) -> Result<bool, LexError> {
        // Where the outermost open parenthesis is, and how deep we are.
        let mut open: Option<Pos> = None;
        let mut depth = 0u32;
        let mut at_line_start = true;
        loop {
            let Some(&c) = input.get(self.pos) else {
                if let Some(pos) = open {
                    return Err(LexError {
                        pos,
                        message: "'(' is not closed before the end of the file",
                    });
                }
                return Ok(!entry.fields.is_empty());
            };
            let first_of_line = at_line_start;
            at_line_start = false;
            match c {
                b'\n' => {
                    self.newline();
                    at_line_start = true;
                    if depth == 0 {
                        if !entry.fields.is_empty() {
                            return Ok(true);
                        }
                        // A line of blanks and comments: the next line decides afresh.
                        entry.continues_owner = false;
                    }
                }
                b' ' | b'\t' | b'\r' => {
                    if first_of_line && depth == 0 && entry.fields.is_empty() {
                        entry.continues_owner = true;
                    }
                    self.pos += 1;
                }
                b';' => {
                    while input.get(self.pos).is_some_and(|&b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                b'(' => {
                    if depth == 0 {
                        open = Some(self.pos_of(self.pos));
                    }
                    depth = depth.saturating_add(1);
                    self.pos += 1;
                }
                b')' => {
                    if depth == 0 {
                        return Err(LexError {
                            pos: self.pos_of(self.pos),
                            message: "')' without a matching '('",
                        });
                    }
                    depth -= 1;
                    if depth == 0 {
                        open = None;
                    }
                    self.pos += 1;
                }
                b'"' => self.quoted(input, entry)?,
                _ => self.plain(input, entry)?,
            }
        }
    }

    /// Reads a quoted field; `self.pos` is at the opening quote.
    fn quoted<'a>(&mut self, input: &'a [u8], entry: &mut Entry<'a>) -> Result<(), LexError> {
        let open = self.pos;
        let start = open + 1;
        let mut i = start;
        loop {
            match input.get(i) {
                Some(b'"') => break,
                Some(b'\\') => {
                    if matches!(input.get(i + 1), None | Some(b'\n')) {
                        return Err(LexError {
                            pos: self.pos_of(i),
                            message: "escape '\\' at the end of a line",
                        });
                    }
                    i += 2;
                }
                Some(b'\n') | None => {
                    return Err(LexError {
                        pos: self.pos_of(open),
                        message: "quoted string not closed on its line",
                    });
                }
                Some(_) => i += 1,
            }
        }
        let text = input.get(start..i).unwrap_or(&[]);
        entry.push(Field { text, quoted: true }, self.pos_of(open));
        self.pos = i + 1;
        entry.end = self.pos_of(self.pos);
        Ok(())
    }

    /// Reads an unquoted field; `self.pos` is at its first byte.
    fn plain<'a>(&mut self, input: &'a [u8], entry: &mut Entry<'a>) -> Result<(), LexError> {
        let start = self.pos;
        let mut i = start;
        while let Some(&c) = input.get(i) {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                b'\\' => {
                    if matches!(input.get(i + 1), None | Some(b'\n')) {
                        return Err(LexError {
                            pos: self.pos_of(i),
                            message: "escape '\\' at the end of a line",
                        });
                    }
                    i += 2;
                }
                _ => i += 1,
            }
        }
        let text = input.get(start..i).unwrap_or(&[]);
        entry.push(
            Field {
                text,
                quoted: false,
            },
            self.pos_of(start),
        );
        self.pos = i;
        entry.end = self.pos_of(self.pos);
        Ok(())
    }
}

/// Splits `text` into fields as a zone file would, for one entry's worth of text that has no
/// newlines outside parentheses (used to re-read text made by `$GENERATE`).
pub fn split_fields<'a>(text: &'a [u8], entry: &mut Entry<'a>) -> Result<(), LexError> {
    let mut lexer = Lexer::new();
    if !lexer.next_entry(text, entry)? {
        return Ok(());
    }
    let mut rest = Entry::default();
    if lexer.next_entry(text, &mut rest)? {
        return Err(LexError {
            pos: rest.pos(0),
            message: "more than one line",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lexes `input` into (continues_owner, [(text, quoted, line, column)]) per entry.
    /// A field as (text, quoted, line, column).
    type Lexed = (String, bool, u32, u32);

    fn lex(input: &str) -> Vec<(bool, Vec<Lexed>)> {
        let mut lexer = Lexer::new();
        let mut entry = Entry::default();
        let mut out = Vec::new();
        while lexer.next_entry(input.as_bytes(), &mut entry).unwrap() {
            let fields = entry
                .fields
                .iter()
                .zip(&entry.positions)
                .map(|(f, p)| {
                    (
                        String::from_utf8_lossy(f.text).into_owned(),
                        f.quoted,
                        p.line,
                        p.column,
                    )
                })
                .collect();
            out.push((entry.continues_owner, fields));
        }
        out
    }

    fn texts(input: &str) -> Vec<Vec<String>> {
        lex(input)
            .into_iter()
            .map(|(_, f)| f.into_iter().map(|x| x.0).collect())
            .collect()
    }

    fn error(input: &str) -> LexError {
        let mut lexer = Lexer::new();
        let mut entry = Entry::default();
        loop {
            match lexer.next_entry(input.as_bytes(), &mut entry) {
                Ok(true) => continue,
                Ok(false) => panic!("no error in {input:?}"),
                Err(e) => return e,
            }
        }
    }

    #[test]
    fn fields_and_positions() {
        let got = lex("www  IN\tA 192.0.2.1\n");
        assert_eq!(
            got,
            vec![(
                false,
                vec![
                    ("www".into(), false, 1, 1),
                    ("IN".into(), false, 1, 6),
                    ("A".into(), false, 1, 9),
                    ("192.0.2.1".into(), false, 1, 11)
                ]
            )]
        );
    }

    #[test]
    fn blank_start_continues_owner() {
        let got = lex("a A 1.2.3.4\n  AAAA ::1\n\tTXT x\n");
        assert_eq!(
            got.iter().map(|e| e.0).collect::<Vec<_>>(),
            [false, true, true]
        );
        assert_eq!(got[1].1[0], ("AAAA".into(), false, 2, 3));
    }

    #[test]
    fn comments_and_empty_lines_are_skipped() {
        assert_eq!(
            texts("; only a comment\n\n   \n a ; c\nb;c\n"),
            vec![vec!["a"], vec!["b"]]
        );
        // A blank line or a comment line with a leading blank is not an entry.
        assert!(!lex("   ; x\nz\n")[0].0);
    }

    #[test]
    fn parentheses_join_lines() {
        let got = lex("@ SOA ns host (\n  1 ; serial\n  2 3 ( 4 )\n  5 )\nnext A 1.1.1.1");
        assert_eq!(got.len(), 2);
        let fields: Vec<_> = got[0].1.iter().map(|f| (f.0.as_str(), f.2, f.3)).collect();
        assert_eq!(
            fields,
            [
                ("@", 1, 1),
                ("SOA", 1, 3),
                ("ns", 1, 7),
                ("host", 1, 10),
                ("1", 2, 3),
                ("2", 3, 3),
                ("3", 3, 5),
                ("4", 3, 9),
                ("5", 4, 3)
            ]
        );
        assert_eq!(got[1].1[0], ("next".into(), false, 5, 1));
        // Parentheses end fields without blanks.
        assert_eq!(texts("a(b)c\n"), vec![vec!["a", "b", "c"]]);
    }

    #[test]
    fn quoted_fields() {
        let got = lex(r#"t TXT "a b;c (d)" "" "x\"y" z"#);
        let f = &got[0].1;
        assert_eq!(f[2], ("a b;c (d)".into(), true, 1, 7));
        assert_eq!(f[3], ("".into(), true, 1, 19));
        assert_eq!(f[4], (r#"x\"y"#.into(), true, 1, 22));
        assert_eq!(f[5], ("z".into(), false, 1, 29));
        // A quote ends an unquoted field.
        assert_eq!(texts(r#"a"b c"d"#), vec![vec!["a", "b c", "d"]]);
    }

    #[test]
    fn escapes_are_kept_raw() {
        assert_eq!(
            texts(r"a\ b\;c\(\)\\ d\065"),
            vec![vec![r"a\ b\;c\(\)\\", r"d\065"]]
        );
    }

    #[test]
    fn end_is_just_past_the_last_field() {
        let mut lexer = Lexer::new();
        let mut entry = Entry::default();
        assert!(
            lexer
                .next_entry(b"www A   ; comment\n", &mut entry)
                .unwrap()
        );
        assert_eq!(entry.end, Pos { line: 1, column: 6 });
        assert_eq!(entry.pos(5), entry.end);
    }

    #[test]
    fn errors_point_at_the_problem() {
        assert_eq!(
            error("a A 1.2.3.4\nb ) A\n"),
            LexError {
                pos: Pos { line: 2, column: 3 },
                message: "')' without a matching '('"
            }
        );
        assert_eq!(
            error("a (\n A\n ( B )\n"),
            LexError {
                pos: Pos { line: 1, column: 3 },
                message: "'(' is not closed before the end of the file"
            }
        );
        assert_eq!(
            error("x\n  t TXT \"abc\ndef\"\n"),
            LexError {
                pos: Pos { line: 2, column: 9 },
                message: "quoted string not closed on its line"
            }
        );
        assert_eq!(
            error("x \\\ny"),
            LexError {
                pos: Pos { line: 1, column: 3 },
                message: "escape '\\' at the end of a line"
            }
        );
        assert_eq!(
            error("x \"a\\"),
            LexError {
                pos: Pos { line: 1, column: 5 },
                message: "escape '\\' at the end of a line"
            }
        );
    }

    #[test]
    fn resumes_after_an_error() {
        let input = b"a ) b\nc d\n";
        let mut lexer = Lexer::new();
        let mut entry = Entry::default();
        assert!(lexer.next_entry(input, &mut entry).is_err());
        assert!(lexer.next_entry(input, &mut entry).unwrap());
        assert_eq!(entry.fields[0].text, b"c");
        assert_eq!(entry.positions[0], Pos { line: 2, column: 1 });
    }

    #[test]
    fn crlf_and_odd_bytes() {
        assert_eq!(texts("a b\r\nc\r\n"), vec![vec!["a", "b"], vec!["c"]]);
        let mut lexer = Lexer::new();
        let mut entry = Entry::default();
        assert!(lexer.next_entry(b"\xff\xfe \x00\x80", &mut entry).unwrap());
        assert_eq!(entry.fields[0].text, b"\xff\xfe");
        assert_eq!(entry.fields[1].text, b"\x00\x80");
    }

    #[test]
    fn split_fields_rejects_a_second_line() {
        let mut entry = Entry::default();
        split_fields(b"10 \"a b\" c", &mut entry).unwrap();
        assert_eq!(entry.fields.len(), 3);
        assert!(split_fields(b"a\nb", &mut entry).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let mut lexer = Lexer::new();
            let mut entry = Entry::default();
            let mut guard = 0;
            while guard < 1000 {
                guard += 1;
                match lexer.next_entry(&input, &mut entry) {
                    Ok(true) | Err(_) => {}
                    Ok(false) => break,
                }
            }
            proptest::prop_assert!(guard < 1000);
        }
    }
}
