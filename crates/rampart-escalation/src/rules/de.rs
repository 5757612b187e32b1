//! Rules in German, written as customers type them (accents optional:
//! words are normalised before matching).

use crate::intents::Intent;
use crate::patterns::{RuleSpec, p};

pub(crate) static RULES: &[RuleSpec] = &[
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a gas leak or carbon monoxide",
        patterns: &[
            p("gas geruch|leck|riecht|austritt|tritt_aus|stinkt"),
            p("gasgeruch|gasleck|gasaustritt|gaswarnmelder"),
            p("riecht|stinkt nach gas|faulen|faulen_eiern|schwefel"),
            p("es riecht|stinkt komisch|seltsam? nach gas|eiern|schwefel"),
            p("kohlenmonoxid|co_melder"),
            p("co melder|warnmelder"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a fire, sparks or an electrical danger",
        patterns: &[
            p("es brennt"),
            p("feuer|flammen"),
            p("brand in|im|in_der|ausgebrochen"),
            p("in brand"),
            p("rauch|qualm|raucht|qualmt"),
            p("funken|funkt|funkensprung|funkenflug"),
            p("kurzschluss|verschmort|schmort|schmorgeruch|brandgeruch"),
            p("steckdose|kabel|sicherungskasten|schalter raucht|qualmt|funkt|schmort|ist_heiss"),
            p("stromschlag|stromschlage"),
            p("brennt"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a flood or burst pipe",
        patterns: &[
            p(
                "uberschwemmung|uberschwemmt|uberflutet|uberflutung|hochwasser|wasserschaden|rohrbruch",
            ),
            p("wasser tropft|lauft|kommt|dringt|fliesst durch|aus|von der? decke|wand|lampe"),
            p("decke tropft|leckt|ist_nass|tropft"),
            p("rohr|leitung|wasserrohr ist? geplatzt|gebrochen"),
            p("wasser uberall"),
            p("tropft|lauft|kommt|fliesst|stromt wasser"),
            p("keller steht unter wasser"),
            p("steht alles? unter wasser"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports an injury or medical emergency",
        patterns: &[
            p("notfall").unless_next(&[
                "service", "dienst", "zuschlag", "gebuhr", "nummer", "kontakt", "termin",
            ]),
            p("verletzt|blutet|bewusstlos|krankenwagen|notarzt|ohnmachtig|ohnmacht"),
            p("atmet nicht"),
            p("kann nicht atmen"),
            p("herzinfarkt"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "tries to override the assistant's instructions",
        patterns: &[
            p(
                "ignoriere|ignorier|ignorieren|vergiss|vergesse|missachte alle|deine|die|samtliche? vorherigen|bisherigen|obigen|vorigen|fruheren? anweisungen|instruktionen|regeln",
            ),
            p("admin|administrator|root passwort|kennwort|zugang|rechte|zugangsdaten"),
            p("vorherigen|bisherigen|obigen|vorigen anweisungen|instruktionen|regeln"),
            p("system prompt|prompts"),
            p("systemprompt|systemanweisung|systemanweisungen|entwicklermodus"),
            p("api schlussel|key|keys"),
            p(
                "zeig|zeige|verrate|gib|nenne mir? deinen|den|dein|deine|die prompt|schlussel|passwort|token|anweisungen",
            ),
            p("ohne einschrankungen|filter|regeln"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports hacking or unauthorised access",
        patterns: &[
            p("gehackt|gehacked|gehackt|hacker"),
            p(
                "passwort|konto|karte|identitat|daten|zugangsdaten wurde|wurden|ist|sind? gestohlen|geklaut",
            ),
            p("identitatsdiebstahl"),
            p(
                "unbefugter|unbefugte|unbefugten|unberechtigter|unberechtigte|unberechtigten zugriff|zugang|abbuchung|login|anmeldung",
            ),
            p(
                "jemand hat sich? in? mein|meinem|meine|mich? konto|eingeloggt|angemeldet|passwort|e_mail",
            ),
            p("jemand hat mein|meine|meinem passwort|konto|e_mail|karte"),
            p("das war ich nicht"),
            p("jemand hat sich"),
            p("mit meinem passwort|konto|zugang"),
            p("ich erkenne diese|diesen|dieses? abbuchung|anmeldung|login|gerat nicht"),
            p("konto gesperrt"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports fraud or phishing",
        patterns: &[
            p("betrug|betruger|betrugerisch|betrugerische"),
            p("phishing"),
            p("verdachtige|verdachtigen e_mail|mail|sms|link|anruf"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions suing or legal action",
        patterns: &[
            p("verklagen|verklage|verklagt|verklagen"),
            p("klage|klagen einreichen|erheben"),
            p("ich werde|werden klagen"),
            p("vor gericht"),
            p("gerichtliche klage"),
            p("rechtliche|juristische|gerichtliche schritte"),
            p("abmahnung|mahnbescheid"),
            p("strafanzeige"),
            p("anzeige erstatten"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions a lawyer",
        patterns: &[p(
            "anwalt|anwaltin|anwalte|rechtsanwalt|rechtsanwaltin|anwaltskanzlei|rechtsbeistand",
        )],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "makes a complaint",
        patterns: &[
            p("beschwerde|beschweren|reklamation|beschwere"),
            p("verbraucherzentrale|schlichtungsstelle"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "alleges a scam or rip-off",
        patterns: &[p("abzocke|abgezockt|abzocker|betrogen")],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "mentions a chargeback or payment dispute",
        patterns: &[
            p("ruckbuchung|chargeback|zuruckbuchen|zuruckbuchung|widerspruch|widerspreche"),
            p("lastschrift zuruck"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "demands a refund",
        patterns: &[
            p("geld zuruck").unless_next(&["garantie"]),
            p("mein geld wieder"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "reports a wrong or failed charge",
        patterns: &[
            p("doppelt|zweimal abgebucht|belastet|berechnet|bezahlt|abgerechnet"),
            p("falsche|falsch|zu_hohe abbuchung|betrag|rechnung|belastung"),
            p("zahlung fehlgeschlagen|abgelehnt"),
            p("karte abgelehnt"),
            p("zu viel|viel_zu_viel berechnet|abgebucht"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks for a refund",
        patterns: &[p(
            "erstattung|ruckerstattung|erstatten|erstattet|gutschrift",
        )],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks about invoices or bills",
        patterns: &[p("rechnung|rechnungen|abrechnung")],
    },
    RuleSpec {
        intent: Intent::Privacy,
        reason: "exercises data protection rights",
        patterns: &[
            p(
                "loschen|loscht|entfernen sie? bitte? alle? meine daten|informationen|konto|kundendaten",
            ),
            p("daten|konto|informationen loschen|entfernen"),
            p("loschen sie|loscht alle? meine daten|informationen|konto"),
            p("dsgvo|gdpr|datenschutzbeauftragte|datenschutzbeauftragten"),
            p("auskunft uber meine daten"),
            p("loschung|entfernung meiner|der|aller|meinen daten|informationen"),
            p("daten an dritte"),
            p("auskunftsersuchen|datenauskunft|loschantrag"),
            p("welche daten speichern|haben|sammeln sie|ihr"),
            p("recht auf vergessenwerden|loschung|auskunft|datenubertragbarkeit"),
            p("meine daten nicht mehr? verwenden|weitergeben|verkaufen"),
        ],
    },
    RuleSpec {
        intent: Intent::HumanRequested,
        reason: "asks for a human",
        patterns: &[
            p(
                "mit einem|einer|dem|der? mensch|menschen|mitarbeiter|mitarbeiterin|berater|beraterin|person|menschlichen|vorgesetzten sprechen|reden|verbinden",
            ),
            p("echten|echte|echter|richtigen mensch|menschen|person|mitarbeiter"),
            p("mitarbeiter|mensch bitte"),
            p("kein|keinen bot|roboter|chatbot"),
            p("rufen sie mich zuruck|an"),
            p("ruckruf"),
            p("verbinden sie mich"),
            p(
                "verbinden mich? mit|zu einem|einer|dem|der? mitarbeiter|mitarbeiterin|menschen|berater|beraterin|person",
            ),
        ],
    },
];
