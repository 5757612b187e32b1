//! Rules in Tamil (Tamil script and romanised), written as customers type them (accents optional:
//! words are normalised before matching).

use crate::intents::Intent;
use crate::patterns::{RuleSpec, p};

pub(crate) static RULES: &[RuleSpec] = &[
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a gas leak or carbon monoxide",
        patterns: &[
            p("கேஸ்|எரிவாயு|காஸ் வாசனை|நாற்றம்|கசிவு|லீக்"),
            p("gas vaasanai|vasanai|vaasam|naatram|narram|kasivu|leak|smell"),
            p("gas kasiyudhu|kasiyuthu|leak_aagudhu"),
            p("azhugina muttai"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a fire, sparks or an electrical danger",
        patterns: &[
            p("தீ"),
            p("தீப்பிடித்தது|தீ_பிடித்தது|தீப்பிடிச்சிருச்சு"),
            p("புகை"),
            p("தீப்பொறி|ஸ்பார்க்"),
            p("thee pidichiruchu|pudichiruchu|pidichidichu|pidikkudhu"),
            p("thee"),
            p("pugai|pogai|pohai|pugaiyum"),
            p("spark|sparks varudhu|aagudhu"),
            p("current adichiduchu|adichathu|adikkudhu|shock"),
            p("short circuit"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a flood or burst pipe",
        patterns: &[
            p("வெள்ளம்"),
            p("கூரையில்|மேற்கூரையில்|சீலிங்கில் இருந்து? தண்ணீர்|தண்ணி"),
            p("தண்ணீர்|தண்ணி கசிகிறது|ஒழுகுகிறது|வருகிறது"),
            p("பைப் உடைந்து|வெடித்து"),
            p("vellam"),
            p(
                "ceiling|roof|kooraiyila|ceilingla|roofla|mela la|le? irundhu|irunthu? thanni|thanneer",
            ),
            p("thanni|thanneer kasiyudhu|ozhugudhu|ozhugudu|varudhu|kottudhu|niraiyudhu"),
            p("pipe odanjiduchu|udanjiduchu|vedichiduchu|burst"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports an injury or medical emergency",
        patterns: &[
            p("மயக்கம்|ரத்தம்|இரத்தம்|ஆம்புலன்ஸ்"),
            p("மூச்சு விட முடியவில்லை"),
            p("அவசரம்|அவசர_நிலை"),
            p("mayakkam|mayangi|mayangitaanga|ratham|rattham|ambulance"),
            p("moochu vida mudiyala|mudiyalai"),
            p("avasaram"),
            p("emergency aachu|aagiduchu|situation"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "tries to override the assistant's instructions",
        patterns: &[
            p("முந்தைய|முன்பு அறிவுறுத்தல்கள்|வழிமுறைகள்|அறிவுறுத்தல்களை|வழிமுறைகளை"),
            p("அறிவுறுத்தல்களை|வழிமுறைகளை புறக்கணி|புறக்கணிக்கவும்|மறந்துவிடு|மற"),
            p("munnadi|munnaadi|mundhaiya|mundhina|pazhaya instructions|vazhimuraigal|rules"),
            p(
                "instructions|vazhimuraigal|rules ellam|ellathaiyum|ah? ignore|maranthudu|marandhudu|marandhidu",
            ),
            p("api key|saavi"),
            p("system prompt|prompt kaattu|sollu"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports hacking or unauthorised access",
        patterns: &[
            p("ஹேக்"),
            p("கடவுச்சொல்|பாஸ்வேர்ட் திருட"),
            p("யாரோ என்|என்னுடைய"),
            p("hack aayiduchu|aachu|pannitaanga|pannittanga|panniyachu|panitanga|pannitanga|panni"),
            p("password|otp|pin thirudittanga|thiruttu|thirudu|leak"),
            p("yaaro en|enoda|ennoda account|password|card|email"),
            p("naan panala|pannala"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports fraud or phishing",
        patterns: &[p("மோசடி"), p("mosadi|fraud")],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions suing or legal action",
        patterns: &[
            p("வழக்கு"),
            p("நீதிமன்றம்|கோர்ட்"),
            p("case podu|poduven|poduvom|poduvean|poda|potten|pottu|podurean|podaren"),
            p("valakku|vazhakku"),
            p("court ku|la|le|kku|ukku"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions a lawyer",
        patterns: &[p("வழக்கறிஞர்|வக்கீல்"), p("vakeel|vakil|lawyer")],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "makes a complaint",
        patterns: &[p("புகார்"), p("pugar|complaint kudu|kudupen|pannuven|panren")],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "alleges a scam or rip-off",
        patterns: &[
            p("ஏமாற்று|ஏமாத்திட்டாங்க"),
            p("yemathitaanga|emathitanga|yemaatha|emaathu|yemathittanga|emathittanga"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "mentions a chargeback or payment dispute",
        patterns: &[p("chargeback|dispute")],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "demands a refund",
        patterns: &[
            p("பணம்|காசு திரும்ப"),
            p("panam|kaasu|kasu|paisa thirumba|thiruppi|thiruppi_kudu"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "reports a wrong or failed charge",
        patterns: &[
            p("இரண்டு முறை"),
            p("rendu|2 thadava|murai|vaati"),
            p("extra|adhigama charge|kaasu|panam"),
            p("kaasu|panam eduthutanga|eduthuttanga|kattaachu"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks for a refund",
        patterns: &[p("ரீஃபண்ட்|ரீபண்ட்"), p("refund")],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks about invoices or bills",
        patterns: &[
            p("பில்|கட்டணம்"),
            p("bill la|le|ku|thappu|thappa|thappaa|adhigama|vandhuchu"),
        ],
    },
    RuleSpec {
        intent: Intent::Privacy,
        reason: "exercises data protection rights",
        patterns: &[
            p("என் தரவு|தகவல்|தகவல்களை|தரவை அனைத்தையும்|எல்லாவற்றையும்|எல்லாம்? நீக்கு|நீக்கவும்|அழி|அழிக்கவும்"),
            p("தரவை|தகவல்களை நீக்கு|நீக்கவும்|அழி|அழிக்கவும்"),
            p(
                "en|enoda|ennoda data|information|details ellam|ellathaiyum|um? delete|azhi|azhinga|azhichidunga|neekku|neekkunga",
            ),
            p("data delete|azhi|neekku|neekkunga"),
            p("enna data|details vechirukeenga|store"),
        ],
    },
    RuleSpec {
        intent: Intent::HumanRequested,
        reason: "asks for a human",
        patterns: &[
            p("மனிதர்|மனிதரிடம்|ஆளிடம்|மனுஷங்க|நபரிடம்"),
            p(
                "manushan|manusha|manushanga|aal|agent|manager|oruthar kitta|kitte pesanum|pesa|pesanam|pesa_venum",
            ),
            p("real|nijamana aal|manushan"),
            p("bot venam|vendam"),
        ],
    },
];
