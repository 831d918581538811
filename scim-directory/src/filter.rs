//! The SCIM filter language (RFC 7644 §3.4.2.2): a parser with length and
//! depth limits, and evaluation against a stored JSON resource.
//!
//! Supported: `eq ne co sw ew gt ge lt le pr`, `and`, `or`, `not (...)`,
//! grouping parentheses, value paths (`emails[type eq "work"]`) and
//! URN-qualified attributes
//! (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`).
//! `and` binds tighter than `or`. Attribute names are case-insensitive;
//! string comparison is case-insensitive unless the attribute is `caseExact`
//! (`id`, `externalId`, member and manager `value`).

use std::cmp::Ordering;

use serde_json::Value;

use crate::errors::ScimError;

/// Default maximum filter length in bytes.
pub const DEFAULT_MAX_FILTER_LEN: usize = 2048;
/// Default maximum nesting depth (parentheses, `not`, value paths).
pub const DEFAULT_MAX_FILTER_DEPTH: usize = 16;

/// An attribute path: `[urn:]name[.sub]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN prefix, when the path is qualified.
    pub urn: Option<String>,
    /// The attribute name.
    pub name: String,
    /// The sub-attribute name, when there is one.
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `[urn:]name[.sub]`.
    pub fn parse(s: &str) -> Result<Self, ScimError> {
        let (urn, rest) = split_urn(s);
        let (name, sub) = match rest.split_once('.') {
            Some((n, sub)) => (n, Some(sub)),
            None => (rest, None),
        };
        let valid = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(name) || sub.is_some_and(|s| !valid(s)) {
            return Err(ScimError::invalid_filter(format!(
                "`{}` is not a valid attribute path",
                truncate(s)
            )));
        }
        Ok(Self {
            urn: urn.map(str::to_string),
            name: name.to_string(),
            sub: sub.map(str::to_string),
        })
    }
}

/// Splits `urn:...:Schema:attr.sub` at the last colon into (urn, `attr.sub`).
pub(crate) fn split_urn(s: &str) -> (Option<&str>, &str) {
    if s.len() > 4 && s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        if let Some(i) = s.rfind(':') {
            return (Some(&s[..i]), &s[i + 1..]);
        }
    }
    (None, s)
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare(AttrPath, CompareOp, Value),
    /// `path pr`.
    Present(AttrPath),
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`.
    Not(Box<Filter>),
    /// `attr[filter]`: some element of the multi-valued `attr` matches.
    ValuePath(AttrPath, Box<Filter>),
}

/// Limits on what the parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterLimits {
    /// Maximum length in bytes.
    pub max_len: usize,
    /// Maximum nesting depth.
    pub max_depth: usize,
}

impl Default for FilterLimits {
    fn default() -> Self {
        Self {
            max_len: DEFAULT_MAX_FILTER_LEN,
            max_depth: DEFAULT_MAX_FILTER_DEPTH,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Str(String),
    Word(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(i, ch)) = chars.peek() {
        match ch {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match ch {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => tokens.push(Token::Str(string_literal(input, i, &mut chars)?)),
            _ => {
                let mut end = input.len();
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_whitespace() || "()[]\"".contains(c) {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token::Word(input[i..end].to_string()));
            }
        }
    }
    Ok(tokens)
}

fn string_literal(
    input: &str,
    start: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, ScimError> {
    chars.next();
    let mut escaped = false;
    for (j, c) in chars.by_ref() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => {
                return serde_json::from_str(&input[start..=j]).map_err(|_| {
                    ScimError::invalid_filter("a string in the filter has an invalid escape")
                })
            }
            _ => {}
        }
    }
    Err(ScimError::invalid_filter(
        "a string in the filter is not closed",
    ))
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    max_depth: usize,
}

/// Parses a filter within the given limits. Every malformed input is a 400
/// `invalidFilter`, never a panic.
pub fn parse_filter(input: &str, limits: FilterLimits) -> Result<Filter, ScimError> {
    if input.len() > limits.max_len {
        return Err(ScimError::invalid_filter(format!(
            "the filter is {} bytes long; at most {} are accepted",
            input.len(),
            limits.max_len
        )));
    }
    let mut p = Parser {
        tokens: tokenize(input)?,
        pos: 0,
        depth: 0,
        max_depth: limits.max_depth,
    };
    let f = p.or_expr()?;
    match p.peek() {
        None => Ok(f),
        Some(t) => Err(ScimError::invalid_filter(format!(
            "unexpected {} after a complete filter",
            describe(t)
        ))),
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
        Token::OpenBracket => "`[`".into(),
        Token::CloseBracket => "`]`".into(),
        Token::Str(s) => format!("string \"{}\"", truncate(s)),
        Token::Word(w) => format!("`{}`", truncate(w)),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(ScimError::invalid_filter(format!(
                "the filter nests deeper than {} levels",
                self.max_depth
            )));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and_expr()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        self.enter()?;
        let f = self.unary_inner();
        self.depth -= 1;
        f
    }

    fn unary_inner(&mut self) -> Result<Filter, ScimError> {
        if self.keyword("not") {
            self.pos += 1;
            self.expect(Token::Open, "`(` after `not`")?;
            let inner = self.or_expr()?;
            self.expect(Token::Close, "`)`")?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or_expr()?;
                self.expect(Token::Close, "`)`")?;
                Ok(inner)
            }
            Some(Token::Word(w)) => self.attr_expr(&w),
            Some(t) => Err(ScimError::invalid_filter(format!(
                "expected an attribute, found {}",
                describe(&t)
            ))),
            None => Err(ScimError::invalid_filter("the filter ends too early")),
        }
    }

    fn expect(&mut self, want: Token, what: &str) -> Result<(), ScimError> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(ScimError::invalid_filter(format!(
                "expected {what}, found {}",
                describe(&t)
            ))),
            None => Err(ScimError::invalid_filter(format!(
                "expected {what}, the filter ended"
            ))),
        }
    }

    fn attr_expr(&mut self, word: &str) -> Result<Filter, ScimError> {
        let path = AttrPath::parse(word)?;
        if self.peek() == Some(&Token::OpenBracket) {
            self.pos += 1;
            let inner = self.or_expr()?;
            self.expect(Token::CloseBracket, "`]`")?;
            let inner = match self.sub_after_bracket()? {
                Some(sub) => Filter::And(Box::new(inner), Box::new(self.comparison(sub)?)),
                None => inner,
            };
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        self.comparison(path)
    }

    /// The `.value` of `emails[type eq "work"].value eq "x"` (Entra's email
    /// match): the sub-attribute compared within the matching element.
    fn sub_after_bracket(&mut self) -> Result<Option<AttrPath>, ScimError> {
        let Some(Token::Word(w)) = self.peek() else {
            return Ok(None);
        };
        let Some(sub) = w.strip_prefix('.') else {
            return Ok(None);
        };
        let sub = AttrPath::parse(sub)?;
        if sub.urn.is_some() || sub.sub.is_some() {
            return Err(ScimError::invalid_filter(format!(
                "`{}` after `]` must be one sub-attribute",
                truncate(w)
            )));
        }
        self.pos += 1;
        Ok(Some(sub))
    }

    /// `path op value` or `path pr`, after the path.
    fn comparison(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        let op = match self.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("pr") => {
                return Ok(Filter::Present(path))
            }
            Some(Token::Word(w)) => CompareOp::parse(&w).ok_or_else(|| {
                ScimError::invalid_filter(format!("`{}` is not a filter operator", truncate(&w)))
            })?,
            _ => {
                return Err(ScimError::invalid_filter(
                    "expected an operator after the attribute",
                ))
            }
        };
        Ok(Filter::Compare(path, op, self.comp_value()?))
    }

    fn comp_value(&mut self) -> Result<Value, ScimError> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Value::String(s)),
            Some(Token::Word(w)) => match serde_json::from_str::<Value>(&w.to_ascii_lowercase()) {
                Ok(v) if !v.is_array() && !v.is_object() && !v.is_string() => Ok(v),
                _ => Err(ScimError::invalid_filter(format!(
                    "`{}` is not a value: quote strings, use true, false, null or a number",
                    truncate(&w)
                ))),
            },
            _ => Err(ScimError::invalid_filter(
                "expected a value after the operator",
            )),
        }
    }
}

/// Says whether an attribute compares case-exactly: `(urn, name, sub)`.
pub(crate) type CaseExact<'a> = &'a dyn Fn(Option<&str>, &str, Option<&str>) -> bool;

/// Whether `resource` (a JSON object) matches `filter`.
pub(crate) fn matches(filter: &Filter, resource: &Value, case_exact: CaseExact<'_>) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, resource, case_exact) && matches(b, resource, case_exact),
        Filter::Or(a, b) => matches(a, resource, case_exact) || matches(b, resource, case_exact),
        Filter::Not(a) => !matches(a, resource, case_exact),
        Filter::Present(path) => values_at(resource, path).iter().any(|v| !is_empty_value(v)),
        Filter::Compare(path, op, want) => {
            let exact = case_exact(path.urn.as_deref(), &path.name, path.sub.as_deref());
            let found = values_at(resource, path);
            compare_any(&found, *op, want, exact)
        }
        Filter::ValuePath(path, inner) => {
            let outer = path.name.clone();
            let nested = move |_: Option<&str>, name: &str, _: Option<&str>| {
                case_exact(path.urn.as_deref(), &outer, Some(name))
            };
            elements_at(resource, path)
                .into_iter()
                .any(|el| matches(inner, el, &nested))
        }
    }
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Looks up `key` in a JSON object case-insensitively.
pub(crate) fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn attr_value<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let scope = match &path.urn {
        Some(urn) => get_ci(resource, urn)?,
        None => resource,
    };
    get_ci(scope, &path.name)
}

/// The elements of a multi-valued attribute (or the single value).
fn elements_at<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    match attr_value(resource, path) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    }
}

/// Every leaf value at `path`, flattening multi-valued attributes.
fn values_at<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let elements = elements_at(resource, path);
    match &path.sub {
        Some(sub) => elements
            .into_iter()
            .filter_map(|e| get_ci(e, sub))
            .collect(),
        None => elements
            .into_iter()
            .map(|e| {
                if e.is_object() {
                    get_ci(e, "value").unwrap_or(e)
                } else {
                    e
                }
            })
            .collect(),
    }
}

fn compare_any(found: &[&Value], op: CompareOp, want: &Value, exact: bool) -> bool {
    if op == CompareOp::Ne {
        return !compare_any(found, CompareOp::Eq, want, exact);
    }
    if want.is_null() {
        return op == CompareOp::Eq && found.iter().all(|v| is_empty_value(v));
    }
    found.iter().any(|v| compare(v, op, want, exact))
}

fn compare(have: &Value, op: CompareOp, want: &Value, exact: bool) -> bool {
    match (have, want) {
        (Value::String(h), Value::String(w)) => compare_str(h, op, w, exact),
        (Value::Bool(h), Value::Bool(w)) => op == CompareOp::Eq && h == w,
        (Value::Number(h), Value::Number(w)) => {
            let (Some(h), Some(w)) = (h.as_f64(), w.as_f64()) else {
                return false;
            };
            ordered(h.partial_cmp(&w), op)
        }
        _ => false,
    }
}

fn compare_str(have: &str, op: CompareOp, want: &str, exact: bool) -> bool {
    let (h, w) = if exact {
        (have.to_string(), want.to_string())
    } else {
        (have.to_lowercase(), want.to_lowercase())
    };
    match op {
        CompareOp::Eq => h == w,
        CompareOp::Ne => h != w,
        CompareOp::Co => h.contains(&w),
        CompareOp::Sw => h.starts_with(&w),
        CompareOp::Ew => h.ends_with(&w),
        _ => ordered(Some(h.cmp(&w)), op),
    }
}

fn ordered(ord: Option<Ordering>, op: CompareOp) -> bool {
    matches!(
        (ord, op),
        (Some(Ordering::Greater), CompareOp::Gt | CompareOp::Ge)
            | (Some(Ordering::Less), CompareOp::Lt | CompareOp::Le)
            | (
                Some(Ordering::Equal),
                CompareOp::Ge | CompareOp::Le | CompareOp::Eq
            )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Result<Filter, ScimError> {
        parse_filter(s, FilterLimits::default())
    }

    fn is_match(f: &str, v: &Value) -> bool {
        let exact = |_: Option<&str>, n: &str, _: Option<&str>| n == "id" || n == "externalId";
        matches(&parse(f).unwrap(), v, &exact)
    }

    fn ada() -> Value {
        json!({
            "id": "abc-1", "externalId": "X1", "userName": "Ada@Example.com",
            "displayName": "Ada Lovelace", "active": true,
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true},
                       {"value": "ada@home.test", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
        })
    }

    #[test]
    fn operators_on_the_issue_attributes() {
        let u = ada();
        assert!(is_match(r#"userName eq "ada@example.com""#, &u));
        assert!(is_match(r#"USERNAME Eq "ADA@EXAMPLE.COM""#, &u));
        assert!(is_match(r#"displayName co "love""#, &u));
        assert!(is_match(r#"displayName sw "Ada""#, &u));
        assert!(is_match(r#"emails.value ew "home.test""#, &u));
        assert!(is_match("externalId pr", &u));
        assert!(!is_match("nickName pr", &u));
        assert!(is_match(r#"id eq "abc-1""#, &u));
        assert!(
            !is_match(r#"externalId eq "x1""#, &u),
            "externalId is caseExact"
        );
        assert!(is_match(
            r#"userName eq "nobody" or displayName sw "Ada""#,
            &u
        ));
        assert!(!is_match(
            r#"userName eq "nobody" and displayName sw "Ada""#,
            &u
        ));
        assert!(is_match(r#"not (userName eq "nobody")"#, &u));
        assert!(is_match("active eq true", &u));
        assert!(is_match(
            r#"emails[type eq "work" and value co "example"]"#,
            &u
        ));
        assert!(!is_match(
            r#"emails[type eq "home" and value co "example"]"#,
            &u
        ));
        assert!(is_match(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d""#,
            &u
        ));
    }

    #[test]
    fn a_sub_attribute_after_a_value_filter_compares_within_the_element() {
        // Entra's documented email match.
        let u = ada();
        assert!(is_match(
            r#"emails[type eq "work"].value eq "ADA@example.com""#,
            &u
        ));
        assert!(
            !is_match(r#"emails[type eq "work"].value eq "ada@home.test""#, &u),
            "the home address is not the work one"
        );
        assert!(is_match(r#"emails[type eq "home"].value sw "ada@""#, &u));
        assert!(is_match(r#"emails[type eq "home"].value pr"#, &u));
        assert!(is_match(
            r#"userName pr and emails[type eq "work"].value eq "ada@example.com""#,
            &u
        ));
        for bad in [
            r#"emails[type eq "work"].value"#,
            r#"emails[type eq "work"].a.b eq "x""#,
            r#"emails[type eq "work"]. eq "x""#,
        ] {
            assert_eq!(
                parse(bad).unwrap_err().scim_type(),
                Some(crate::ScimType::InvalidFilter),
                "{bad}"
            );
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let f = parse(r#"a eq "1" or b eq "2" and c eq "3""#).unwrap();
        assert!(matches!(f, Filter::Or(_, ref r) if matches!(**r, Filter::And(_, _))));
    }

    #[test]
    fn malformed_filters_are_invalid_filter_errors() {
        for bad in [
            "",
            "userName",
            "userName eq",
            r#"userName zz "x""#,
            r#"userName eq "open"#,
            "userName eq bare",
            "(userName pr",
            r#"emails[type eq "work""#,
            r#"userName eq "a" extra"#,
            "not userName pr",
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(
                err.scim_type(),
                Some(crate::ScimType::InvalidFilter),
                "{bad}"
            );
        }
    }

    #[test]
    fn limits_are_enforced() {
        let deep = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep).unwrap_err().detail().contains("deeper"));
        let long = format!(r#"userName eq "{}""#, "a".repeat(5000));
        assert!(parse(&long).unwrap_err().detail().contains("bytes long"));
    }
}
