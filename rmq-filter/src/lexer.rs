//! Tokens of RocketMQ's selector grammar (`SelectorParser.jj`), produced on demand so that the first problem
//! from the left is the one reported, as JavaCC does.
//!
//! - Whitespace: space, tab, CR, LF, form feed. Comments: `-- ...` to the end of the line and `/* ... */`.
//! - Keywords, case-insensitive: `NOT AND OR BETWEEN IN TRUE FALSE NULL IS CONTAINS STARTSWITH ENDSWITH`.
//! - Identifiers: `[A-Za-z_$][A-Za-z0-9_$]*` (no dots), case kept.
//! - Integers: `0` or `[1-9][0-9]*` with an optional `l`/`L`; a leading zero ends the literal (`07` is `0`
//!   then `7`, which the parser refuses).
//! - Decimals: `1.5`, `1.`, `.5`, `1e3`, `1.5E-3`.
//! - Strings: `'...'` with `''` for a quote.
//! - Operators: `= <> > >= < <= ( ) , + -`.

use crate::error::{SyntaxError, SyntaxErrorKind};

/// Reserved words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Not,
    And,
    Or,
    Between,
    In,
    True,
    False,
    Null,
    Is,
    Contains,
    StartsWith,
    EndsWith,
}

impl Keyword {
    fn lookup(word: &str) -> Option<Keyword> {
        const WORDS: [(&str, Keyword); 12] = [
            ("NOT", Keyword::Not),
            ("AND", Keyword::And),
            ("OR", Keyword::Or),
            ("BETWEEN", Keyword::Between),
            ("IN", Keyword::In),
            ("TRUE", Keyword::True),
            ("FALSE", Keyword::False),
            ("NULL", Keyword::Null),
            ("IS", Keyword::Is),
            ("CONTAINS", Keyword::Contains),
            ("STARTSWITH", Keyword::StartsWith),
            ("ENDSWITH", Keyword::EndsWith),
        ];
        WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map(|(_, k)| *k)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Keyword::Not => "NOT",
            Keyword::And => "AND",
            Keyword::Or => "OR",
            Keyword::Between => "BETWEEN",
            Keyword::In => "IN",
            Keyword::True => "TRUE",
            Keyword::False => "FALSE",
            Keyword::Null => "NULL",
            Keyword::Is => "IS",
            Keyword::Contains => "CONTAINS",
            Keyword::StartsWith => "STARTSWITH",
            Keyword::EndsWith => "ENDSWITH",
        }
    }
}

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    Keyword(Keyword),
    Ident(String),
    /// Integer literal text without the `L` suffix.
    Integer(String),
    /// Decimal literal text.
    Decimal(String),
    /// Decoded string literal.
    Str(String),
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Eof,
}

impl TokenKind {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            TokenKind::Keyword(k) => k.as_str().to_owned(),
            TokenKind::Ident(s) => format!("identifier '{s}'"),
            TokenKind::Integer(s) | TokenKind::Decimal(s) => format!("number {s}"),
            TokenKind::Str(s) => format!("string '{}'", s.replace('\'', "''")),
            TokenKind::Eq => "'='".into(),
            TokenKind::Ne => "'<>'".into(),
            TokenKind::Gt => "'>'".into(),
            TokenKind::Ge => "'>='".into(),
            TokenKind::Lt => "'<'".into(),
            TokenKind::Le => "'<='".into(),
            TokenKind::LParen => "'('".into(),
            TokenKind::RParen => "')'".into(),
            TokenKind::Comma => "','".into(),
            TokenKind::Plus => "'+'".into(),
            TokenKind::Minus => "'-'".into(),
            TokenKind::Eof => "end of input".into(),
        }
    }
}

/// A token and the character offset it starts at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) pos: usize,
}

/// Splits an expression into tokens, one at a time.
#[derive(Debug)]
pub(crate) struct Lexer<'a> {
    src: &'a str,
    chars: Vec<char>,
    at: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '$'
}

fn is_ident_part(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Lexer {
            src,
            chars: src.chars().collect(),
            at: 0,
        }
    }

    /// Length of the expression in characters.
    pub(crate) fn len(&self) -> usize {
        self.chars.len()
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn error(&self, kind: SyntaxErrorKind, pos: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError::new(kind, pos, message, self.src)
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek(0) {
                Some(' ' | '\t' | '\n' | '\r' | '\u{c}') => self.at += 1,
                Some('-') if self.peek(1) == Some('-') => {
                    // RocketMQ needs a line break after the comment; the end of input is accepted here too.
                    while let Some(c) = self.peek(0) {
                        self.at += 1;
                        if c == '\n' || c == '\r' {
                            break;
                        }
                    }
                }
                Some('/') if self.peek(1) == Some('*') => {
                    let start = self.at;
                    self.at += 2;
                    loop {
                        match self.peek(0) {
                            None => {
                                return Err(self.error(
                                    SyntaxErrorKind::Unterminated,
                                    start,
                                    "comment is not closed with '*/'",
                                ))
                            }
                            Some('*') if self.peek(1) == Some('/') => {
                                self.at += 2;
                                break;
                            }
                            Some(_) => self.at += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn take_digits(&mut self) -> usize {
        let start = self.at;
        while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    /// Length of an exponent (`e`, optional sign, digits) starting at the cursor, 0 if there is none.
    fn exponent_len(&self) -> usize {
        if !matches!(self.peek(0), Some('e' | 'E')) {
            return 0;
        }
        let sign = usize::from(matches!(self.peek(1), Some('+' | '-')));
        let mut n = 0;
        while self.peek(1 + sign + n).is_some_and(|c| c.is_ascii_digit()) {
            n += 1;
        }
        if n == 0 {
            0
        } else {
            1 + sign + n
        }
    }

    fn text(&self, start: usize) -> String {
        self.chars[start..self.at].iter().collect()
    }

    fn number(&mut self) -> TokenKind {
        let start = self.at;
        let int_digits = self.take_digits();
        let fraction = self.peek(0) == Some('.')
            && (int_digits > 0 || self.peek(1).is_some_and(|c| c.is_ascii_digit()));
        if fraction {
            self.at += 1;
            self.take_digits();
            self.at += self.exponent_len();
            return TokenKind::Decimal(self.text(start));
        }
        let exp = self.exponent_len();
        if exp > 0 {
            self.at += exp;
            return TokenKind::Decimal(self.text(start));
        }
        // DECIMAL_LITERAL is "0" | [1-9][0-9]*[lL]? : a leading zero is a literal of its own.
        if self.chars[start] == '0' {
            self.at = start + 1;
            return TokenKind::Integer("0".into());
        }
        let text = self.text(start);
        if matches!(self.peek(0), Some('l' | 'L')) {
            self.at += 1;
        }
        TokenKind::Integer(text)
    }

    fn string(&mut self) -> Result<TokenKind, SyntaxError> {
        let start = self.at;
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek(0) {
                None => {
                    return Err(self.error(
                        SyntaxErrorKind::Unterminated,
                        start,
                        "string literal is not closed with a quote (write '' for a quote inside)",
                    ))
                }
                Some('\'') if self.peek(1) == Some('\'') => {
                    out.push('\'');
                    self.at += 2;
                }
                Some('\'') => {
                    self.at += 1;
                    return Ok(TokenKind::Str(out));
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }

    /// The next token; [`TokenKind::Eof`] at the end (and every time after).
    pub(crate) fn next_token(&mut self) -> Result<Token, SyntaxError> {
        self.skip_trivia()?;
        let pos = self.at;
        let Some(c) = self.peek(0) else {
            return Ok(Token {
                kind: TokenKind::Eof,
                pos,
            });
        };
        let two = |k2: char| self.peek(1) == Some(k2);
        let kind = match c {
            '=' => {
                self.at += 1;
                TokenKind::Eq
            }
            '<' if two('>') => {
                self.at += 2;
                TokenKind::Ne
            }
            '<' if two('=') => {
                self.at += 2;
                TokenKind::Le
            }
            '<' => {
                self.at += 1;
                TokenKind::Lt
            }
            '>' if two('=') => {
                self.at += 2;
                TokenKind::Ge
            }
            '>' => {
                self.at += 1;
                TokenKind::Gt
            }
            '(' => {
                self.at += 1;
                TokenKind::LParen
            }
            ')' => {
                self.at += 1;
                TokenKind::RParen
            }
            ',' => {
                self.at += 1;
                TokenKind::Comma
            }
            '+' => {
                self.at += 1;
                TokenKind::Plus
            }
            '-' => {
                self.at += 1;
                TokenKind::Minus
            }
            '\'' => self.string()?,
            '.' if self.peek(1).is_some_and(|d| d.is_ascii_digit()) => self.number(),
            d if d.is_ascii_digit() => self.number(),
            s if is_ident_start(s) => {
                while self.peek(0).is_some_and(is_ident_part) {
                    self.at += 1;
                }
                let word = self.text(pos);
                match Keyword::lookup(&word) {
                    Some(k) => TokenKind::Keyword(k),
                    None => TokenKind::Ident(word),
                }
            }
            other => {
                let hint = match other {
                    '"' => " (string literals use single quotes)",
                    '!' => " (write '<>' for 'not equal' and NOT for negation)",
                    '&' | '|' => " (write AND / OR)",
                    _ => "",
                };
                return Err(self.error(
                    SyntaxErrorKind::InvalidCharacter,
                    pos,
                    format!("unexpected character '{}'{hint}", other.escape_default()),
                ));
            }
        };
        Ok(Token { kind, pos })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let mut lx = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token().expect("lexes");
            if t.kind == TokenKind::Eof {
                return out;
            }
            out.push(t.kind);
        }
    }

    #[test]
    fn numbers_follow_the_java_literal_rules() {
        assert_eq!(kinds("12L"), vec![TokenKind::Integer("12".into())]);
        assert_eq!(
            kinds("07"),
            vec![
                TokenKind::Integer("0".into()),
                TokenKind::Integer("7".into())
            ]
        );
        assert_eq!(kinds("5."), vec![TokenKind::Decimal("5.".into())]);
        assert_eq!(kinds(".5e-3"), vec![TokenKind::Decimal(".5e-3".into())]);
        assert_eq!(kinds("5E10"), vec![TokenKind::Decimal("5E10".into())]);
        assert_eq!(
            kinds("5e"),
            vec![TokenKind::Integer("5".into()), TokenKind::Ident("e".into())]
        );
    }

    #[test]
    fn keywords_ignore_case_and_identifiers_keep_it() {
        assert_eq!(
            kinds("not Between inx $a_1"),
            vec![
                TokenKind::Keyword(Keyword::Not),
                TokenKind::Keyword(Keyword::Between),
                TokenKind::Ident("inx".into()),
                TokenKind::Ident("$a_1".into()),
            ]
        );
    }

    #[test]
    fn strings_comments_and_operators() {
        assert_eq!(
            kinds("'it''s' -- note\n<> /* x */ <= >="),
            vec![
                TokenKind::Str("it's".into()),
                TokenKind::Ne,
                TokenKind::Le,
                TokenKind::Ge
            ]
        );
        let err = Lexer::new("a = 'x").next_token().and_then(|_| {
            let mut lx = Lexer::new("a = 'x");
            lx.next_token()?;
            lx.next_token()?;
            lx.next_token()
        });
        assert_eq!(err.map_err(|e| e.position), Err(4));
    }
}
