//! Webhook `condition`s: on the real site a Python expression run by `frappe.safe_eval` with
//! `doc` bound to the document, before every event of the Webhook's doctype. The simulator
//! understands a small subset and refuses the rest when the Webhook is saved, loudly, so a test
//! never passes on a condition the simulator silently misread:
//!
//! ```text
//! expr   := or
//! or     := and ("or" and)*
//! and    := not ("and" not)*
//! not    := "not" not | cmp
//! cmp    := value (("==" | "!=") value)?
//! value  := "doc." field | "doc.get(" string ")" | string | number | None | True | False
//!         | "(" expr ")"
//! ```
//!
//! Values compare as Python would compare what Frappe holds: a missing or empty field is
//! `None` for `doc.get`, numbers compare by value (`100.0 == 100`), and truthiness follows
//! Python (`""`, `0`, `None` are false).

use serde_json::Value;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Or(Box<Condition>, Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    Equals(Operand, Operand, bool),
    Truthy(Operand),
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `doc.field`: an attribute; the real site raises AttributeError for a field the doctype
    /// does not have.
    Attribute(String),
    /// `doc.get("field")`: None when missing.
    Get(String),
    Literal(Literal),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Number(f64),
    None,
    Bool(bool),
}

/// Why a condition was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Python itself would not parse it; the text is Python's SyntaxError message, which the
    /// real site shows as "Invalid Condition: <message> (<unknown>, line 1)".
    Syntax(&'static str),
    /// Valid Python, perhaps, but outside what the simulator evaluates.
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Text(String),
    Number(f64),
    Dot,
    Open,
    Close,
    Equal,
    NotEqual,
    /// Any other operator or punctuation Python knows (`<`, `+`, `[`, `,`…).
    Other(String),
}

const INVALID: Refusal = Refusal::Syntax("invalid syntax");

fn tokenize(source: &str) -> Result<Vec<Token>, Refusal> {
    let mut tokens = Vec::new();
    let characters: Vec<char> = source.chars().collect();
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        match character {
            c if c.is_whitespace() => index += 1,
            '"' | '\'' => {
                let quote = character;
                let mut text = String::new();
                index += 1;
                loop {
                    match characters.get(index) {
                        None | Some('\n') => {
                            return Err(Refusal::Syntax(
                                "unterminated string literal (detected at line 1)",
                            ))
                        }
                        Some(c) if *c == quote => break,
                        Some('\\') => {
                            return Err(Refusal::Unsupported(
                                "escapes in string literals".to_string(),
                            ))
                        }
                        Some(c) => text.push(*c),
                    }
                    index += 1;
                }
                index += 1;
                tokens.push(Token::Text(text));
            }
            c if c.is_ascii_digit() => {
                let start = index;
                while index < characters.len()
                    && (characters[index].is_ascii_digit() || characters[index] == '.')
                {
                    index += 1;
                }
                let text: String = characters[start..index].iter().collect();
                let number = text.parse().map_err(|_| INVALID)?;
                tokens.push(Token::Number(number));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = index;
                while index < characters.len()
                    && (characters[index].is_alphanumeric() || characters[index] == '_')
                {
                    index += 1;
                }
                tokens.push(Token::Name(characters[start..index].iter().collect()));
            }
            '.' => {
                tokens.push(Token::Dot);
                index += 1;
            }
            '(' => {
                tokens.push(Token::Open);
                index += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                index += 1;
            }
            '=' | '!' if characters.get(index + 1) == Some(&'=') => {
                tokens.push(if character == '=' {
                    Token::Equal
                } else {
                    Token::NotEqual
                });
                index += 2;
            }
            other => {
                tokens.push(Token::Other(other.to_string()));
                index += 1;
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    position: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        token
    }

    fn is_name(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Token::Name(found)) if found == name)
    }

    fn or(&mut self) -> Result<Condition, Refusal> {
        let mut left = self.and()?;
        while self.is_name("or") {
            self.position += 1;
            let right = self.and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, Refusal> {
        let mut left = self.not()?;
        while self.is_name("and") {
            self.position += 1;
            let right = self.not()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition, Refusal> {
        if self.is_name("not") {
            self.position += 1;
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Condition, Refusal> {
        if self.peek() == Some(&Token::Open) {
            self.position += 1;
            let inner = self.or()?;
            return match self.next() {
                Some(Token::Close) => Ok(inner),
                None => Err(Refusal::Syntax("'(' was never closed")),
                Some(other) => Err(unsupported_token(&other)),
            };
        }
        let left = self.operand()?;
        let equal = match self.peek() {
            Some(Token::Equal) => true,
            Some(Token::NotEqual) => false,
            _ => return Ok(Condition::Truthy(left)),
        };
        self.position += 1;
        let right = self.operand()?;
        Ok(Condition::Equals(left, right, equal))
    }

    fn operand(&mut self) -> Result<Operand, Refusal> {
        match self.next() {
            None => Err(INVALID),
            Some(Token::Text(text)) => Ok(Operand::Literal(Literal::Text(text))),
            Some(Token::Number(number)) => Ok(Operand::Literal(Literal::Number(number))),
            Some(Token::Name(name)) => match name.as_str() {
                "None" => Ok(Operand::Literal(Literal::None)),
                "True" => Ok(Operand::Literal(Literal::Bool(true))),
                "False" => Ok(Operand::Literal(Literal::Bool(false))),
                "doc" => self.doc_access(),
                "and" | "or" | "not" => Err(INVALID),
                other => Err(Refusal::Unsupported(format!("the name `{other}`"))),
            },
            Some(Token::Equal) | Some(Token::NotEqual) | Some(Token::Close) | Some(Token::Dot) => {
                Err(INVALID)
            }
            Some(other) => Err(unsupported_token(&other)),
        }
    }

    /// After `doc`: `.field`, or `.get("field")`.
    fn doc_access(&mut self) -> Result<Operand, Refusal> {
        match self.next() {
            Some(Token::Dot) => {}
            None => return Err(Refusal::Unsupported("`doc` on its own".to_string())),
            Some(other) => return Err(unsupported_token(&other)),
        }
        let Some(Token::Name(field)) = self.next() else {
            return Err(INVALID);
        };
        if field != "get" || self.peek() != Some(&Token::Open) {
            if self.peek() == Some(&Token::Open) || self.peek() == Some(&Token::Dot) {
                return Err(Refusal::Unsupported(format!(
                    "calling or reading into `doc.{field}`"
                )));
            }
            return Ok(Operand::Attribute(field));
        }
        self.position += 1;
        let Some(Token::Text(name)) = self.next() else {
            return Err(Refusal::Unsupported(
                "`doc.get` with anything but one string argument".to_string(),
            ));
        };
        match self.next() {
            Some(Token::Close) => Ok(Operand::Get(name)),
            None => Err(Refusal::Syntax("'(' was never closed")),
            Some(_) => Err(Refusal::Unsupported(
                "`doc.get` with a default or more arguments".to_string(),
            )),
        }
    }
}

fn unsupported_token(token: &Token) -> Refusal {
    let shown = match token {
        Token::Other(text) | Token::Name(text) => text.clone(),
        Token::Text(text) => format!("\"{text}\""),
        Token::Number(number) => number.to_string(),
        Token::Dot => ".".into(),
        Token::Open => "(".into(),
        Token::Close => ")".into(),
        Token::Equal => "==".into(),
        Token::NotEqual => "!=".into(),
    };
    Refusal::Unsupported(format!("`{shown}`"))
}

/// Parses a condition, or says why not.
pub fn parse(source: &str) -> Result<Condition, Refusal> {
    let tokens = tokenize(source)?;
    if tokens.is_empty() {
        return Err(INVALID);
    }
    let mut parser = Parser {
        tokens,
        position: 0,
    };
    let condition = parser.or()?;
    match parser.next() {
        None => Ok(condition),
        // `doc.status ==` and friends: what Python calls invalid syntax.
        Some(Token::Equal) | Some(Token::NotEqual) => Err(INVALID),
        Some(other) => Err(unsupported_token(&other)),
    }
}

impl Condition {
    /// The `doc.field` attributes it reads (the real site raises for unknown ones).
    pub fn attributes(&self) -> Vec<&str> {
        let mut found = Vec::new();
        self.collect_attributes(&mut found);
        found
    }

    fn collect_attributes<'a>(&'a self, found: &mut Vec<&'a str>) {
        let operand = |operand: &'a Operand, found: &mut Vec<&'a str>| {
            if let Operand::Attribute(field) = operand {
                found.push(field.as_str());
            }
        };
        match self {
            Condition::Or(a, b) | Condition::And(a, b) => {
                a.collect_attributes(found);
                b.collect_attributes(found);
            }
            Condition::Not(inner) => inner.collect_attributes(found),
            Condition::Equals(a, b, _) => {
                operand(a, found);
                operand(b, found);
            }
            Condition::Truthy(a) => operand(a, found),
        }
    }

    /// Whether the condition holds for `doc` (a field the document lacks reads as None).
    pub fn holds(&self, doc: &serde_json::Map<String, Value>) -> bool {
        match self {
            Condition::Or(a, b) => a.holds(doc) || b.holds(doc),
            Condition::And(a, b) => a.holds(doc) && b.holds(doc),
            Condition::Not(inner) => !inner.holds(doc),
            Condition::Equals(a, b, equal) => (value(a, doc) == value(b, doc)) == *equal,
            Condition::Truthy(a) => value(a, doc).truthy(),
        }
    }
}

/// A value as Python sees it, for `==` and truthiness.
#[derive(Debug, PartialEq)]
enum PyValue {
    None,
    Text(String),
    Number(f64),
    Other(String),
}

impl PyValue {
    fn truthy(&self) -> bool {
        match self {
            PyValue::None => false,
            PyValue::Text(text) => !text.is_empty(),
            PyValue::Number(number) => *number != 0.0,
            PyValue::Other(_) => true,
        }
    }
}

fn value(operand: &Operand, doc: &serde_json::Map<String, Value>) -> PyValue {
    match operand {
        Operand::Literal(Literal::Text(text)) => PyValue::Text(text.clone()),
        Operand::Literal(Literal::Number(number)) => PyValue::Number(*number),
        Operand::Literal(Literal::None) => PyValue::None,
        // True == 1 and False == 0 in Python.
        Operand::Literal(Literal::Bool(flag)) => PyValue::Number(if *flag { 1.0 } else { 0.0 }),
        Operand::Attribute(field) | Operand::Get(field) => match doc.get(field) {
            None | Some(Value::Null) => PyValue::None,
            Some(Value::String(text)) => PyValue::Text(text.clone()),
            Some(Value::Number(number)) => PyValue::Number(number.as_f64().unwrap_or(0.0)),
            Some(Value::Bool(flag)) => PyValue::Number(if *flag { 1.0 } else { 0.0 }),
            Some(Value::Array(items)) if items.is_empty() => PyValue::Other(String::new()),
            Some(other) => PyValue::Other(other.to_string()),
        },
    }
}

/// What the simulator understands, for the message that refuses the rest.
pub const SUPPORTED: &str = "doc.<field> or doc.get(\"<field>\") alone or compared with == / != to a string, number, None, True or False, combined with not, and, or and parentheses";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn evaluates_the_supported_forms_like_python() {
        let order =
            doc(json!({"customer": "Ada", "po_no": "", "grand_total": 100.0, "docstatus": 1}));
        for (source, expected) in [
            (r#"doc.get("customer") == "Ada""#, true),
            (r#"doc.customer == 'Ada'"#, true),
            (r#"doc.customer != "Ada""#, false),
            (r#"not doc.get("po_no")"#, true),
            (r#"not doc.get("missing")"#, true),
            (r#"doc.get("missing") == None"#, true),
            (r#"doc.grand_total == 100"#, true),
            (r#"doc.docstatus == 1 and doc.customer == "Ada""#, true),
            (r#"doc.customer == "Bob" or not doc.po_no"#, true),
            (
                r#"not (doc.customer == "Ada" and doc.docstatus == 1)"#,
                false,
            ),
            (
                r#"doc.customer == "Bob" or doc.customer == "Eve" and doc.docstatus == 1"#,
                false,
            ),
            (r#"doc.docstatus == True"#, true),
        ] {
            let condition = parse(source).unwrap_or_else(|refusal| panic!("{source}: {refusal:?}"));
            assert_eq!(condition.holds(&order), expected, "{source}");
        }
    }

    #[test]
    fn refuses_what_python_would_not_parse_and_what_it_cannot_evaluate() {
        for source in ["doc.status ==", "", "and doc.x", "doc.customer == == 1"] {
            assert_eq!(parse(source), Err(INVALID), "{source}");
        }
        assert_eq!(
            parse("doc.customer == \"x"),
            Err(Refusal::Syntax(
                "unterminated string literal (detected at line 1)"
            ))
        );
        assert_eq!(
            parse("(doc.customer"),
            Err(Refusal::Syntax("'(' was never closed"))
        );
        for source in [
            r#"doc.customer.startswith("x")"#,
            r#"doc.grand_total > 100"#,
            r#"doc.customer in ["a", "b"]"#,
            r#"frappe.db.get_value("X", doc.name)"#,
            r#"doc.get("customer", "x") == "x""#,
            r#"doc"#,
        ] {
            assert!(
                matches!(parse(source), Err(Refusal::Unsupported(_))),
                "{source}: {:?}",
                parse(source)
            );
        }
    }

    #[test]
    fn names_the_attributes_it_reads() {
        let condition =
            parse(r#"doc.customer == "x" and not doc.get("po_no") or doc.status"#).unwrap();
        assert_eq!(condition.attributes(), vec!["customer", "status"]);
    }
}
