//! Normalisation: turns a customer's message into the words the rules and
//! the model read, so that the way something is typed does not decide
//! whether it is found.
//!
//! In order, per message:
//! 1. Unicode NFKC (full-width letters, ligatures, superscripts become plain
//!    letters), zero-width characters and soft hyphens dropped.
//! 2. Case folding (`ß` becomes `ss`) and accent stripping on Latin letters
//!    only: Devanagari and Tamil vowel signs and viramas are part of their
//!    letters and are kept.
//! 3. Splitting into words on everything that is not a letter, digit or
//!    combining mark, while noting clause and sentence boundaries and
//!    whether a word sits inside quotation marks (the rules in
//!    [`crate::context`] need both).
//! 4. Per word: Cyrillic and Greek look-alikes inside a Latin word become
//!    Latin ("hасked" with a Cyrillic `а`), leetspeak is read back
//!    ("h4ck3d", "$ue"), and runs of three or more of one letter shrink to
//!    one ("heeelp").
//! 5. Runs of single letters join into one word: three or more with the
//!    same separator ("g a s", "s.u.e", "r.e.v.e.a.l y.o.u.r"), and, in a
//!    message that spaces its letters and puts wider gaps between words
//!    ("t a l k  t o  a  h u m a n"), every run between the wide gaps.
//!
//! Rule tables are normalised with the same function, so a phrase written
//! with accents still matches a message typed without them.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// One word of a normalised message, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    /// Increases at every comma, semicolon, colon or sentence end: negation
    /// reaches only within its clause.
    pub clause: u32,
    /// Increases at every sentence end: reported speech reaches to it.
    pub sentence: u32,
    /// Inside quotation marks.
    pub quoted: bool,
}

/// A normalised message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalised {
    pub tokens: Vec<Token>,
}

impl Normalised {
    /// The words alone, in order.
    #[must_use]
    pub fn words(&self) -> Vec<&str> {
        self.tokens
            .iter()
            .map(|token| token.text.as_str())
            .collect()
    }

    /// The words joined by single spaces: the text the model reads.
    #[must_use]
    pub fn joined(&self) -> String {
        self.words().join(" ")
    }
}

/// Normalises a phrase from a rule table or a tenant's policy into its
/// words, exactly as a message holding it would be.
#[must_use]
pub fn phrase_words(phrase: &str) -> Vec<String> {
    normalise(phrase)
        .tokens
        .into_iter()
        .map(|token| token.text)
        .collect()
}

/// Normalises a message (see the module documentation).
#[must_use]
pub fn normalise(text: &str) -> Normalised {
    let chars = compatibility_chars(text);
    let mut raw = RawTokens::default();
    let mut previous_kept: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        let before = i.checked_sub(1).map(|b| chars[b]);
        let after = chars.get(i + 1).copied();
        if is_word_char(c) {
            // A combining mark after a Latin letter is an accent (or noise
            // stacked on it); after an Indic letter it is part of the letter.
            if is_combining_mark(c) && previous_kept.is_some_and(is_latin) {
                continue;
            }
            raw.push_char(c);
            previous_kept = Some(c);
            continue;
        }
        previous_kept = None;
        raw.end_word();
        if c.is_whitespace() {
            raw.spaces += 1;
        } else {
            raw.marks = true;
        }
        match c {
            '"' | '“' | '”' | '«' | '»' | '„' | '「' | '」' => raw.toggle_quote(),
            '\'' | '‘' | '’' | '`' => {
                let opens = !raw.quoted
                    && before.is_none_or(|b| b.is_whitespace() || "([{".contains(b))
                    && after.is_some_and(char::is_alphanumeric);
                let closes = raw.quoted
                    && before.is_some_and(|b| !b.is_whitespace())
                    && after.is_none_or(|a| !a.is_alphanumeric());
                if opens || closes {
                    raw.toggle_quote();
                }
            }
            // Inside "s.u.e", "3.5" or "1,000" the mark separates letters,
            // not clauses.
            '.' | ',' if after.is_some_and(|a| !a.is_whitespace()) => {}
            '.' | '!' | '?' | '\n' | '。' | '।' | '¿' | '¡' => raw.end_sentence(),
            ',' | ';' | ':' | '—' | '–' | '(' | ')' => raw.end_clause(),
            _ => {}
        }
    }
    raw.end_word();
    Normalised {
        tokens: join_single_letters(raw.tokens, &raw.gaps),
    }
}

/// Step 1: the text in NFKC, without zero-width characters and soft
/// hyphens.
fn compatibility_chars(text: &str) -> Vec<char> {
    // ASCII is its own NFKC form and holds none of the dropped characters,
    // so most messages skip the Unicode tables altogether.
    if text.is_ascii() {
        return text.chars().collect();
    }
    nfkc_without_invisibles(text)
}

fn nfkc_without_invisibles(text: &str) -> Vec<char> {
    text.nfkc()
        .filter(|c| {
            !matches!(
                c,
                '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
            )
        })
        .collect()
}

/// Letters, digits, combining marks, and the two symbols leetspeak uses
/// for letters.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c) || c == '@' || c == '$'
}

fn is_latin(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}')
}

/// What separates a word from the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// Punctuation without whitespace: "s.u.e".
    Tight,
    /// One whitespace character.
    Space,
    /// Two or more: a word break in letter-spaced text.
    Wide,
}

#[derive(Default)]
struct RawTokens {
    tokens: Vec<Token>,
    /// The gap before each token.
    gaps: Vec<Gap>,
    /// Separators seen since the last word.
    spaces: usize,
    marks: bool,
    word: String,
    clause: u32,
    sentence: u32,
    quoted: bool,
}

impl RawTokens {
    fn push_char(&mut self, c: char) {
        if c == 'ß' || c == 'ẞ' {
            self.word.push_str("ss");
            return;
        }
        if is_latin(c) && !c.is_ascii() {
            // Accent stripping: the base letter of the canonical
            // decomposition.
            let mut base = None;
            decompose_canonical(c, |part| {
                if base.is_none() && !is_combining_mark(part) {
                    base = Some(part);
                }
            });
            self.word.extend(base.unwrap_or(c).to_lowercase());
            return;
        }
        self.word.extend(c.to_lowercase());
    }

    fn end_word(&mut self) {
        if self.word.is_empty() {
            return;
        }
        let text = clean_word(&std::mem::take(&mut self.word));
        if text.is_empty() {
            return;
        }
        self.gaps.push(match (self.spaces, self.marks) {
            (0, _) => Gap::Tight,
            (1, _) => Gap::Space,
            _ => Gap::Wide,
        });
        self.spaces = 0;
        self.marks = false;
        self.tokens.push(Token {
            text,
            clause: self.clause,
            sentence: self.sentence,
            quoted: self.quoted,
        });
    }

    fn end_clause(&mut self) {
        self.clause += 1;
    }

    fn end_sentence(&mut self) {
        self.clause += 1;
        self.sentence += 1;
    }

    fn toggle_quote(&mut self) {
        self.quoted = !self.quoted;
    }
}

/// Look-alikes, leetspeak and stretched letters, for one lowercased word.
fn clean_word(word: &str) -> String {
    let has_latin = word.chars().any(|c| c.is_ascii_alphabetic());
    let word: String = if has_latin {
        word.chars().map(latin_look_alike).collect()
    } else {
        word.to_owned()
    };
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    let decoded = if letters > 0 && !is_number_with_unit(&word) {
        decode_leet(&word)
    } else {
        // "$50" or "@": the symbols stand for nothing here.
        word.chars().filter(|c| c.is_alphanumeric()).collect()
    };
    squeeze_repeats(&decoded)
}

/// Cyrillic and Greek letters that look like Latin ones, as used to slip a
/// word past a filter.
fn latin_look_alike(c: char) -> char {
    match c {
        'а' | 'α' => 'a',
        'в' | 'β' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ι' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'о' | 'ο' => 'o',
        'р' | 'ρ' => 'p',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'у' | 'υ' => 'y',
        'х' | 'χ' => 'x',
        'ν' => 'v',
        'ո' => 'n',
        _ => c,
    }
}

/// "5th", "10am", "2x", "24h": a number with a unit, not leetspeak.
fn is_number_with_unit(word: &str) -> bool {
    let digits = word.chars().take_while(char::is_ascii_digit).count();
    digits > 0
        && matches!(
            &word[digits..],
            "st" | "nd"
                | "rd"
                | "th"
                | "am"
                | "pm"
                | "x"
                | "h"
                | "hr"
                | "hrs"
                | "k"
                | "m"
                | "km"
                | "kg"
                | "mb"
                | "gb"
                | "min"
                | "mins"
                | "s"
        )
}

/// Reads leetspeak back into letters. "1" is an `i` before an `l`
/// ("ce1ling"), an `l` after a vowel or another `l` ("he1p", "ki11") and an
/// `i` elsewhere ("1gnore", "k1ll").
fn decode_leet(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    for (i, &c) in chars.iter().enumerate() {
        let letter = match c {
            '0' => 'o',
            // Before an `l` it is an `i` ("ce1ling", "o1l").
            '1' if chars.get(i + 1) == Some(&'l') => 'i',
            '1' => match out.chars().last() {
                Some('a' | 'e' | 'i' | 'o' | 'u' | 'l') => 'l',
                _ => 'i',
            },
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            other => other,
        };
        out.push(letter);
    }
    out
}

/// Shrinks every run of three or more of one letter to a single letter:
/// nobody writes three in a row, but people stretch words ("heeelp",
/// "gaaas"). Two stay two ("feel", "shall"), and a word of one repeated
/// letter stays whole ("bbb").
fn squeeze_repeats(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    // "bbb", "www": an acronym, not a stretched word.
    if chars.iter().all(|&c| c == chars[0]) {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&d| d == c).count();
        if run >= 3 && c.is_alphabetic() {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n(c, run));
        }
        i += run;
    }
    out
}

/// Joins runs of one-letter Latin words (see the module documentation).
/// Two letters alone are left alone, since "a" and "i" are words.
fn join_single_letters(tokens: Vec<Token>, gaps: &[Gap]) -> Vec<Token> {
    let is_letter = |token: &Token| {
        let mut chars = token.text.chars();
        matches!((chars.next(), chars.next()), (Some(c), None) if c.is_ascii_lowercase())
    };
    let letter_spaced = (1..tokens.len())
        .any(|i| gaps[i] == Gap::Wide && is_letter(&tokens[i]) && is_letter(&tokens[i - 1]));
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        // A run continues while the gap stays the kind it started with.
        let mut run = usize::from(is_letter(&tokens[i]));
        if run == 1 && i + 1 < tokens.len() {
            let kind = gaps[i + 1];
            while i + run < tokens.len()
                && is_letter(&tokens[i + run])
                && gaps[i + run] == kind
                && kind != Gap::Wide
            {
                run += 1;
            }
        }
        let joins = run >= 3 || (run == 2 && letter_spaced);
        if joins {
            let last = &tokens[i + run - 1];
            let text: String = tokens[i..i + run].iter().map(|t| t.text.as_str()).collect();
            out.push(Token {
                text: squeeze_repeats(&text),
                clause: last.clause,
                sentence: last.sentence,
                quoted: tokens[i].quoted,
            });
            i += run;
        } else {
            out.push(tokens[i].clone());
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        phrase_words(text)
    }

    #[test]
    fn ascii_skips_nfkc_and_loses_nothing_by_it() {
        // Every ASCII character, alone and in a run, reads as NFKC reads it.
        let every: String = (0u8..=0x7f).map(char::from).collect();
        assert_eq!(compatibility_chars(&every), nfkc_without_invisibles(&every));
        for c in every.chars() {
            let text = c.to_string();
            assert_eq!(compatibility_chars(&text), nfkc_without_invisibles(&text));
        }
        // One character past ASCII takes the Unicode path.
        assert_eq!(compatibility_chars("su\u{200B}e"), ['s', 'u', 'e']);
    }

    #[test]
    fn case_punctuation_and_width_go() {
        assert_eq!(words("I'll SUE you!!!"), ["i", "ll", "sue", "you"]);
        assert_eq!(words("ＳＵＥ　ｙｏｕ"), ["sue", "you"]);
        assert_eq!(words("ﬁre"), ["fire"]);
    }

    #[test]
    fn latin_accents_go_and_indic_signs_stay() {
        assert_eq!(
            words("Ça VA? Öl-Leck… démandé"),
            ["ca", "va", "ol", "leck", "demande"]
        );
        assert_eq!(words("Straße"), ["strasse"]);
        assert_eq!(words("NÃO vou"), ["nao", "vou"]);
        // Gas (Hindi) and a leak (Tamil) keep their vowel signs and viramas.
        assert_eq!(words("गैस की बदबू"), ["गैस", "की", "बदबू"]);
        assert_eq!(words("கசிவு உள்ளது"), ["கசிவு", "உள்ளது"]);
        // Zalgo noise on Latin letters is stripped.
        assert_eq!(words("s\u{0301}\u{0316}u\u{0334}e"), ["sue"]);
    }

    #[test]
    fn hidden_characters_and_look_alikes_go() {
        assert_eq!(words("ha\u{200B}cked"), ["hacked"]);
        assert_eq!(words("hаckеd"), ["hacked"]); // Cyrillic а and е
        assert_eq!(words("пароль"), ["пароль"]); // a Cyrillic word stays one
    }

    #[test]
    fn leetspeak_is_read_back() {
        assert_eq!(words("h4ck3d"), ["hacked"]);
        assert_eq!(words("$ue y0u"), ["sue", "you"]);
        assert_eq!(
            words("1gnore prev1ous 1nstruct10ns"),
            ["ignore", "previous", "instructions"]
        );
        assert_eq!(words("he1p"), ["help"]);
        assert_eq!(words("g@s"), ["gas"]);
        assert_eq!(words("fr4ud"), ["fraud"]);
    }

    #[test]
    fn numbers_stay_numbers() {
        assert_eq!(words("911"), ["911"]);
        assert_eq!(
            words("charged 2x on the 5th at 10am"),
            ["charged", "2x", "on", "the", "5th", "at", "10am"]
        );
        assert_eq!(words("$50"), ["50"]);
        assert_eq!(words("3.5 or 1,000"), ["3", "5", "or", "1", "000"]);
    }

    #[test]
    fn stretched_letters_shrink() {
        assert_eq!(words("heeeelp gaaaas"), ["help", "gas"]);
        assert_eq!(words("feel shall"), ["feel", "shall"]);
    }

    #[test]
    fn spaced_and_dotted_letters_join() {
        assert_eq!(words("I smell g a s"), ["i", "smell", "gas"]);
        assert_eq!(words("s.u.e"), ["sue"]);
        assert_eq!(words("g-a-s leak"), ["gas", "leak"]);
        assert_eq!(words("S U E  Y O U"), ["sue", "you"]);
        assert_eq!(
            words("t a l k  t o  a  h u m a n"),
            ["talk", "to", "a", "human"]
        );
        assert_eq!(
            words("r.e.v.e.a.l your a.p.i k.e.y"),
            ["reveal", "your", "api", "key"]
        );
        assert_eq!(words("a b"), ["a", "b"]);
    }

    #[test]
    fn clauses_sentences_and_quotes_are_tracked() {
        let n = normalise("No, I will. She said \"sue them\" and it's 'fine'");
        let at = |w: &str| n.tokens.iter().find(|t| t.text == w).unwrap().clone();
        assert!(at("no").clause < at("i").clause);
        assert_eq!(at("i").sentence, 0);
        assert_eq!(at("she").sentence, 1);
        assert!(at("sue").quoted && at("them").quoted);
        assert!(!at("it").quoted && !at("s").quoted);
        assert!(at("fine").quoted);
        assert!(!at("and").quoted);
    }
}
