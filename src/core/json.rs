//! The little JSON the core needs without a JSON library: escaping strings
//! and numbers into text it builds, a cheap shape check for pre-serialized
//! objects, and a small bounded reader for collector response bodies.

/// Appends `text` as a JSON string literal, quotes included.
pub fn push_string(out: &mut String, text: &str) {
    out.push('"');
    let mut start = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[start..index]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
        start = index + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// Appends `value` in decimal.
pub fn push_u64(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.push_str(core::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// Whether `text` has the outer shape of a JSON object (`{ … }`).
///
/// Properties arrive already serialized by the browser's `JSON.stringify`, so
/// the core checks only the frame it splices them into and never re-parses
/// them on the hot path.
pub fn is_object_text(text: &str) -> bool {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    trimmed.len() >= 2 && trimmed.starts_with('{') && trimmed.ends_with('}')
}

/// A parsed JSON value, as much of it as response bodies need.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number,
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object, if this is one and it has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }
}

/// Deepest nesting `parse` accepts, so a hostile body cannot exhaust the stack.
const MAX_DEPTH: usize = 32;

/// Parses a whole JSON document; `None` if it is not valid JSON.
pub fn parse(text: &str) -> Option<Value> {
    read(text, true)
}

/// Whether `text` is one valid JSON object (nested no deeper than
/// `parse` accepts); checked without building it.
pub fn is_json_object(text: &str) -> bool {
    is_object_text(text) && read(text, false).is_some()
}

/// Reads a whole document; with `build` false only checks it.
fn read(text: &str, build: bool) -> Option<Value> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        at: 0,
        build,
    };
    let value = reader.value(0)?;
    reader.skip_whitespace();
    (reader.at == reader.bytes.len()).then_some(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Build the values read; otherwise only check the grammar.
    build: bool,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Option<Value> {
        let end = self.at.checked_add(word.len())?;
        if self.bytes.get(self.at..end)? == word {
            self.at = end;
            Some(value)
        } else {
            None
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_whitespace();
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(Value::String),
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'n' => self.literal(b"null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        self.at += 1;
        let mut members = Vec::new();
        if self.eat(b'}') {
            return Some(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            let value = self.value(depth + 1)?;
            if self.build {
                members.push((key, value));
            }
            if self.eat(b'}') {
                return Some(Value::Object(members));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        self.at += 1;
        let mut items = Vec::new();
        if self.eat(b']') {
            return Some(Value::Array(items));
        }
        loop {
            let item = self.value(depth + 1)?;
            if self.build {
                items.push(item);
            }
            if self.eat(b']') {
                return Some(Value::Array(items));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// Checks the JSON number grammar by hand: float parsing would pull
    /// kilobytes of code into the wasm for a value the core never reads.
    fn number(&mut self) -> Option<Value> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.required_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.required_digits()?;
        }
        Some(Value::Number)
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    fn required_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }

    fn string(&mut self) -> Option<String> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let byte = self.peek()?;
            self.at += 1;
            match byte {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let escaped = self.peek()?;
                    self.at += 1;
                    let decoded = match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    if self.build {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(decoded.encode_utf8(&mut buf).as_bytes());
                    }
                }
                0..=0x1f => return None,
                _ if self.build => out.push(byte),
                _ => {}
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let end = self.at.checked_add(4)?;
        let digits = core::str::from_utf8(self.bytes.get(self.at..end)?).ok()?;
        let value = u32::from_str_radix(digits, 16).ok()?;
        self.at = end;
        Some(value)
    }

    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if (0xd800..0xdc00).contains(&first) {
            if self.bytes.get(self.at..self.at + 2)? != b"\\u" {
                return None;
            }
            self.at += 2;
            let second = self.hex4()?;
            if !(0xdc00..0xe000).contains(&second) {
                return None;
            }
            char::from_u32(0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00))
        } else {
            char::from_u32(first)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(text: &str) -> String {
        let mut out = String::new();
        push_string(&mut out, text);
        out
    }

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        assert_eq!(quoted("a\"b\\c\nd\u{1}é"), "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

    #[test]
    fn escaped_strings_parse_back_to_the_original() {
        for text in [
            "",
            "plain",
            "quote\"",
            "tab\tnew\nline",
            "\u{0}\u{1f}",
            "日本語 🎉",
        ] {
            assert_eq!(parse(&quoted(text)), Some(Value::String(text.to_string())));
        }
    }

    #[test]
    fn writes_decimal_numbers() {
        for value in [0u64, 7, 10, 1234567890, u64::MAX] {
            let mut out = String::new();
            push_u64(&mut out, value);
            assert_eq!(out, value.to_string());
        }
    }

    #[test]
    fn object_text_check_accepts_objects_only() {
        assert!(is_object_text("{}"));
        assert!(is_object_text(" {\"a\":1} "));
        assert!(!is_object_text("[]"));
        assert!(!is_object_text("\"text\""));
        assert!(!is_object_text("{"));
        assert!(!is_object_text(""));
    }

    #[test]
    fn parses_nested_documents() {
        let value = parse(r#"{"a":[1,-2.5e3,true,false,null,{"b":"c\u00e9"}],"d":{}}"#).unwrap();
        let items = match value.get("a") {
            Some(Value::Array(items)) => items,
            other => panic!("not an array: {other:?}"),
        };
        assert_eq!(items.len(), 6);
        assert_eq!(items[5].get("b").and_then(Value::as_str), Some("cé"));
    }

    #[test]
    fn decodes_surrogate_pairs() {
        assert_eq!(
            parse(r#""\ud83c\udf89""#),
            Some(Value::String("🎉".to_string()))
        );
        assert_eq!(parse(r#""\ud83c""#), None);
    }

    #[test]
    fn object_check_reads_the_whole_document() {
        assert!(is_json_object(r#"{"a":[1,{"b":"\u00e9"}],"c":null}"#));
        assert!(
            !is_json_object(r#"{"a":1,}"#),
            "framed like an object, not JSON"
        );
        assert!(!is_json_object(r#"{"a":"x"} {"b":2}"#));
        assert!(!is_json_object("[1]"));
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        assert!(!is_json_object(&deep), "deeper than parse accepts");
    }

    #[test]
    fn refuses_invalid_documents() {
        for bad in [
            "", "{", "}", "{\"a\"}", "{\"a\":}", "[1,]", "tru", "\"open", "{} x", "{'a':1}", "01",
            "1.", "-", "1e", ".5",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn refuses_nesting_beyond_the_depth_limit() {
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(parse(&deep), None);
        let shallow = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&shallow).is_some());
    }
}
