//! Language detection: a small deterministic scorer, enough to tell the
//! supported languages apart in a chat message.
//!
//! Script first: a message mostly in Devanagari is Hindi (`hi`), mostly in
//! Tamil script is Tamil (`ta`). A message in Latin letters is scored by its
//! function words (the short words every sentence has, which differ between
//! languages even when the content words are borrowed): one point per word
//! found in a language's list. Romanised Hindi and Tamil have lists of their
//! own and are reported as `hi-Latn` and `ta-Latn`. Ties go to the language
//! listed first, so the answer never depends on anything but the text.
//!
//! A tenant adds a language through its policy
//! ([`crate::policy::LanguagePolicy`]): its function words join the scoring
//! without a release.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::normalise::Normalised;

/// For each built-in function word, the languages (indexes into
/// [`BUILT_IN`]) it belongs to: one lookup per word instead of a scan.
static FUNCTION_WORDS: LazyLock<HashMap<&'static str, Vec<usize>>> = LazyLock::new(|| {
    let mut index: HashMap<&'static str, Vec<usize>> = HashMap::new();
    for (language, (_, words)) in BUILT_IN.iter().enumerate() {
        for word in *words {
            index.entry(word).or_default().push(language);
        }
    }
    index
});

/// The built-in languages and their function words (already normalised:
/// lowercase, without accents).
pub const BUILT_IN: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "the", "a", "an", "is", "are", "and", "to", "my", "i", "you", "it", "of", "in", "for",
            "this", "that", "with", "have", "has", "was", "not", "please", "can", "what", "there",
            "do", "your", "we", "our", "be", "just", "how", "if", "will", "from", "on",
        ],
    ),
    (
        "es",
        &[
            "el", "la", "los", "las", "que", "y", "un", "una", "es", "mi", "mis", "por", "con",
            "para", "se", "hay", "lo", "esta", "estoy", "tengo", "quiero", "su", "como", "pero",
            "muy", "del", "al", "usted", "ustedes", "yo", "ya", "si", "tu", "voy", "puedo",
        ],
    ),
    (
        "fr",
        &[
            "le", "les", "des", "et", "est", "je", "il", "vous", "pas", "pour", "dans", "mon",
            "ma", "mes", "ne", "sur", "avec", "ce", "j", "c", "qu", "ai", "suis", "une", "du",
            "au", "votre", "vos", "nous", "ca", "cest", "tres", "moi", "merci",
        ],
    ),
    (
        "de",
        &[
            "der", "die", "das", "und", "ist", "ich", "nicht", "ein", "eine", "mein", "meine",
            "sie", "es", "mit", "zu", "den", "dem", "auf", "fur", "wir", "haben", "bitte", "kein",
            "keine", "ihr", "ihre", "wird", "werde", "bei", "mir", "mich", "uns", "ihnen", "auch",
        ],
    ),
    (
        "pt",
        &[
            "os", "as", "que", "e", "um", "uma", "meu", "minha", "nao", "com", "para", "esta",
            "estou", "tem", "do", "da", "no", "na", "voce", "voces", "eu", "muito", "isso", "vou",
            "meus", "minhas", "sim", "obrigado", "obrigada", "aqui", "pelo", "pela", "nos",
        ],
    ),
    (
        "hi-Latn",
        &[
            "hai", "hain", "nahi", "nahin", "mera", "meri", "mere", "kya", "ka", "ki", "ke", "ko",
            "mein", "main", "aap", "hum", "ho", "raha", "rahi", "tha", "thi", "karo", "kar", "yeh",
            "ye", "woh", "aur", "abhi", "kuch", "mujhe", "hamara", "hamare", "kyun", "gaya",
            "gayi", "bhi", "se", "karna", "karunga", "diya", "koi",
        ],
    ),
    (
        "ta-Latn",
        &[
            "enna", "illa", "illai", "naan", "enga", "unga", "ungal", "irukku", "iruku",
            "pannunga", "panna", "romba", "seri", "sollunga", "venum", "vendam", "thaan", "kitta",
            "enaku", "enakku", "yaaru", "yen", "eppadi", "inga", "anga", "vanthu", "aachu",
            "pannen", "maatten", "maaten", "oru", "da", "ah", "nu", "ku",
        ],
    ),
];

/// A language a tenant adds: its code and its function words, in any case
/// and with or without accents.
#[derive(Debug, Clone)]
pub struct ExtraLanguage {
    pub code: String,
    pub function_words: Vec<String>,
}

/// Detects the language of a normalised message: a code such as `en`,
/// `hi`, `ta-Latn`, or an extra language's code; `en` when nothing tells.
#[must_use]
pub fn detect<'a>(normalised: &Normalised, extra: &'a [ExtraLanguage]) -> &'a str {
    let (mut devanagari, mut tamil, mut latin) = (0usize, 0usize, 0usize);
    for token in &normalised.tokens {
        for c in token.text.chars() {
            match c {
                '\u{0900}'..='\u{097F}' => devanagari += 1,
                '\u{0B80}'..='\u{0BFF}' => tamil += 1,
                c if c.is_ascii_alphabetic() => latin += 1,
                _ => {}
            }
        }
    }
    if devanagari > latin && devanagari >= tamil {
        return "hi";
    }
    if tamil > latin {
        return "ta";
    }

    let mut scores = [0usize; BUILT_IN.len()];
    let words = normalised.words();
    for word in &words {
        for &language in FUNCTION_WORDS.get(word).into_iter().flatten() {
            scores[language] += 1;
        }
    }
    let mut best: (&str, usize) = ("en", 0);
    for ((code, _), &score) in BUILT_IN.iter().zip(&scores) {
        if score > best.1 {
            best = (code, score);
        }
    }
    for language in extra {
        let score = words
            .iter()
            .filter(|w| language.function_words.iter().any(|f| f == *w))
            .count();
        if score > best.1 {
            best = (&language.code, score);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalise::normalise;

    fn lang(text: &str) -> String {
        detect(&normalise(text), &[]).to_owned()
    }

    #[test]
    fn each_built_in_language_is_recognised() {
        for (text, expected) in [
            ("I think there is a problem with my order", "en"),
            ("Hay un olor muy raro en la cocina y tengo miedo", "es"),
            ("Je ne suis pas content de votre service", "fr"),
            ("Ich habe eine Frage zu meiner Rechnung, bitte", "de"),
            (
                "Eu não consigo entrar na minha conta, você pode ajudar?",
                "pt",
            ),
            ("मेरे घर में गैस की बदबू आ रही है", "hi"),
            ("என் வீட்டில் தண்ணீர் கசிகிறது", "ta"),
            ("mere ghar mein paani aa raha hai", "hi-Latn"),
            ("enga veetla romba thanni varudhu, enna pannanum", "ta-Latn"),
        ] {
            assert_eq!(lang(text), expected, "{text:?}");
        }
    }

    #[test]
    fn nothing_to_go_on_is_english() {
        assert_eq!(lang("911"), "en");
        assert_eq!(lang(""), "en");
    }

    #[test]
    fn a_tenant_language_is_scored_with_the_others() {
        let italian = [ExtraLanguage {
            code: "it".into(),
            function_words: ["il", "che", "di", "non", "sono", "una", "della", "mio"]
                .map(String::from)
                .to_vec(),
        }];
        let text = normalise("Il mio conto non funziona e sono molto arrabbiato");
        assert_eq!(detect(&text, &italian), "it");
        assert_eq!(detect(&normalise("the house is on fire"), &italian), "en");
    }
}
