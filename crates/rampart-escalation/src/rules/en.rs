//! English rules.

use crate::intents::Intent;
use crate::patterns::{RuleSpec, p};

const HARMLESS_AFTER_FIRE: &[&str] = &[
    "pit",
    "pits",
    "sale",
    "sales",
    "alarm",
    "alarms",
    "brigade",
    "station",
    "blanket",
    "blankets",
    "exit",
    "exits",
    "hydrant",
    "detector",
    "detectors",
    "sprinkler",
    "sprinklers",
    "risk",
    "place",
    "places",
    "extinguisher",
    "extinguishers",
    "safety",
    "inspection",
    "inspections",
    "door",
    "doors",
    "rated",
    "rating",
    "resistant",
    "proof",
    "retardant",
    "wood",
    "starter",
    "starters",
    "insurance",
    "code",
    "codes",
    "drill",
    "drills",
    "escape",
    "brick",
    "bricks",
    "bowl",
    "bowls",
    "pump",
    "pumps",
    "up",
    "off",
];

/// Words after "flood" that make it a product, map or policy.
const HARMLESS_AFTER_FLOOD: &[&str] = &[
    "insurance",
    "zone",
    "zones",
    "light",
    "lights",
    "lamp",
    "lamps",
    "plain",
    "plains",
    "barrier",
    "barriers",
    "defence",
    "defences",
    "defense",
    "defenses",
    "risk",
    "map",
    "maps",
];

/// Words after "in court" / "to court" that make it a street name.
const STREET_WORDS: &[&str] = &[
    "street",
    "st",
    "road",
    "rd",
    "lane",
    "ln",
    "avenue",
    "ave",
    "drive",
    "dr",
    "way",
    "place",
    "yard",
    "apartments",
];

/// The rules, grouped by intent, most specific first within each.
pub(crate) static RULES: &[RuleSpec] = &[
    // Emergency: danger to people or property, now.
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a gas leak or carbon monoxide",
        patterns: &[
            p("gas is|was? leak|leaks|leaking|smell|smells|odor|odour"),
            p("leaking|leaky|smell|smells|smelling|smelled|smelt gas"),
            p("smell|smells|smelling of gas"),
            p("carbon monoxide").unless_next(&[
                "detector",
                "detectors",
                "alarm",
                "alarms",
                "sensor",
                "sensors",
                "tester",
            ]),
            p("co poisoning"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a fire or smoke",
        patterns: &[
            p("fire|fires|blaze|flames")
                .unless_next(HARMLESS_AFTER_FIRE)
                .unless_previous(&["called", "named"]),
            p("smell|smells|smelling|smelled|see|seeing|saw|thick|black smoke"),
            p("smoke everywhere|coming|pouring|filling"),
            p("burning smell"),
            p("smell|smells|smelling of? burning"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports an injury or medical emergency",
        patterns: &[
            p("injury|injuries").unless_previous(&["personal"]),
            p("injured|bleeding|unconscious|unresponsive|electrocuted|electrocution"),
            p("overdose|overdosed|ambulance|paramedic|paramedics|poisoned|poisoning"),
            p(
                "swallowed|ingested|drank|took some|a|the|my|his|her|all_the? bleach|poison|chemicals|cleaner|pills|battery|batteries",
            ),
            // A bare "911" is also a house number ("911 Oak Street").
            p(
                "call|calling|called|dial|dialing|dialling|dialed|dialled|phone|phoned|ring|text|texted 911",
            ),
            p("911 now|please|asap|immediately|help|emergency"),
            p("911").only_at_end(),
            p("medical emergency"),
            p("it|this|there|we|i is|s|have|has|got an|a emergency"),
            p("can_t|cannot|cant|can_not|couldn_t breathe"),
            p("not|isn_t|stopped breathing"),
            p("heart attack"),
            p("burnt|burned|scalded badly|severely|seriously"),
            p("badly|severely|seriously burnt|burned|scalded|injured"),
            p("passed out"),
            p("someone|somebody|badly|seriously is|got? hurt"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a flood or burst pipe",
        patterns: &[
            p("flood|floods|flooded|flooding").unless_next(HARMLESS_AFTER_FLOOD),
            p("burst|bursting|exploded pipe|pipes|main|mains"),
            p("pipe|pipes burst"),
            p("water everywhere"),
            p("ceiling|roof just|has? came|come|fell|fallen|caved down|in"),
            p("water pouring|gushing"),
            p("water is|s? coming|pouring|leaking|dripping through|from the? ceiling|roof"),
        ],
    },
    // Legal: threats of legal action, lawyers.
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions suing or legal action",
        patterns: &[
            // "Sue" is also a name: an object or an intent must go with it.
            p("sue you|u|ya|yall|your|the|them|this|that|him|her|everyone|everybody|over"),
            p("i|we|ll|gonna|wanna will|shall|would|could|might? sue"),
            p(
                "going|want|wants|plan|planning|intend|intends|threaten|threatening|decided|ready|prepared to sue",
            ),
            p("sued|suing|lawsuit|lawsuits|litigation|litigate"),
            p("class action"),
            p("legal action|actions|proceedings|claim|case|steps|recourse"),
            p("small claims"),
            p("cease and desist"),
            p("breach of contract"),
            p("in|to court").unless_next(STREET_WORDS),
            p("court case|order|date|summons|hearing"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions a lawyer",
        patterns: &[
            p("lawyer|lawyers|attorney|attorneys|solicitor|solicitors|barrister|barristers"),
            p("legal counsel|team|department|advice|representation"),
        ],
    },
    // Security: the customer's account, data or money may be in someone
    // else's hands.
    RuleSpec {
        intent: Intent::Security,
        reason: "reports stolen credentials or identity",
        patterns: &[
            p(
                "password|passwords|credentials|login|identity|card|account|details was|were|is|got|been|has_been|have_been? stolen|leaked|compromised",
            ),
            p("stolen|leaked password|passwords|credentials|identity|card|details"),
            p("stole|steal|stealing my password|card|identity|account|details|information|data"),
            p("identity theft|fraud"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports hacking or unauthorised access",
        patterns: &[
            p("hacked|hacker|hackers|hacking|compromised"),
            p(
                "unauthorized|unauthorised access|login|logins|activity|transaction|transactions|charge|charges|purchase|purchases",
            ),
            p(
                "someone|somebody else? accessed|used|broke_into|logged_into|got_into my account|card",
            ),
            p("account takeover"),
            p(
                "someone|somebody|they|hacker|hackers else? got_into|broke_into|logged_into|accessed|hacked my|into_my email|account|inbox|phone",
            ),
            p(
                "someone|somebody else? is|has|was using|accessing|accessed|used my account|card|email|details",
            ),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports a data breach",
        patterns: &[
            // "Breach of contract" is a legal matter, found by the legal rules.
            p("breach|breached|breaches").unless_next(&["of"]),
            p(
                "breach|breaches of data|security|privacy|confidentiality|my|our|your|customer|personal",
            ),
            p("data|security|privacy breach"),
            p("data leak|leaked"),
            p("leaked my|our data|information|details|info"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports fraud or phishing",
        patterns: &[
            p("fraud|fraudulent|fraudster|fraudsters"),
            p("phishing|phished|phish"),
            p(
                "suspicious email|emails|link|links|text|texts|message|messages|call|calls|login|activity",
            ),
        ],
    },
    // Dispute: the customer contests a payment or the service.
    RuleSpec {
        intent: Intent::Dispute,
        reason: "mentions a chargeback or payment dispute",
        patterns: &[
            p("chargeback|chargebacks"),
            p("charge back"),
            p("dispute|disputes|disputed|disputing"),
            p("reverse|reversing|reversed the? charge|payment|transaction"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "demands a refund",
        patterns: &[
            p("demand|demands|demanding|demanded a|my|the|full? refund|refunds"),
            p("my money back"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "alleges a scam or rip-off",
        patterns: &[p(
            "scam|scams|scammed|scammer|scammers|scamming|ripoff|rip_off|ripped_off|swindled|cheated|con_artist|con_artists",
        )],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "makes a complaint",
        patterns: &[
            p("complaint|complaints|complain|complaining|complained"),
            p("better business bureau"),
            p("bbb"),
        ],
    },
    // Billing: money the customer was or will be charged.
    RuleSpec {
        intent: Intent::Billing,
        reason: "reports a wrong or failed charge",
        patterns: &[
            p("charged twice|double|again|two_times|2x|three_times"),
            p("double charged|charge|charges|billed|billing"),
            p("overcharged|overcharge|overcharging|overbilled|overbilling"),
            p(
                "payment|payments|card|transaction was|is|got|keeps|has_been? failed|failing|declined|bounced|rejected|didn_t_go_through",
            ),
            p("failed|declined|rejected payment|payments|transaction|charge"),
            p("wrong|incorrect|extra|unexpected|hidden charge|charges|fee|fees|amount"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks for a refund",
        patterns: &[p(
            "refund|refunds|refunded|refunding|reimburse|reimbursed|reimbursement",
        )],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks about invoices or bills",
        patterns: &[
            p("invoice|invoices|invoiced|invoicing|billed"),
            p("billing").unless_next(&["address"]),
            // "Bill" is also a name: a determiner must go with it.
            p(
                "my|the|this|that|your|last|latest|monthly|final|first|a gas|water|electric|electricity|power|energy|phone|service? bill|bills",
            ),
        ],
    },
    // Human requested: the customer wants a person, whatever the topic.
    RuleSpec {
        intent: Intent::HumanRequested,
        reason: "asks for a human",
        patterns: &[
            p(
                "speak|talk|chat|speaking|talking|chatting to|with a|an|the|your|some? real|actual|live? human|humans|person|people|agent|representative|rep|manager|supervisor|operator|someone|somebody|staff|employee|owner",
            ),
            p(
                "transfer|connect|put me? to|with|through to? a|an|the|your|some? real|actual|live? human|person|agent|representative|rep|manager|supervisor|operator|someone|somebody",
            ),
            p(
                "want|need|demand|get|give me|us? a|an|the|your real|actual|live? human|manager|supervisor|representative|operator",
            ),
            p("real|actual|live human|humans|person|people|agent"),
            p("human being|please"),
            p("not|no|stop a|an|the? bot|robot|chatbot|machine"),
            p("don_t|do_not want|need a|an|the? bot|robot|chatbot|machine|ai"),
        ],
    },
    // Added with multilingual detection: gas and fire described without
    // the words, electrical danger, water from above.
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a gas leak or carbon monoxide",
        patterns: &[
            p("rotten egg|eggs"),
            p("sulfur|sulphur|sulfurous|sulphurous"),
            p("hissing|hiss|hisses from|behind|near|at|in|under"),
            p(
                "co|monoxide alarm|detector|detectors is|s|keeps|went|going|goes|sounding|beeping|off",
            ),
            p("dizzy|dizziness|nauseous|lightheaded|light_headed"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a fire, sparks or an electrical danger",
        patterns: &[
            p("on fire"),
            p("caught fire"),
            p("spark|sparks|sparking|sparked|sparky|arcing"),
            p("smoke|smoking|smoked is|s|was? coming|from|out|pouring|rising|filling|everywhere"),
            p("smoke").only_at_end(),
            p("burning|melting|melted plastic|rubber|wire|wires|smell|odour|odor"),
            p(
                "outlet|outlets|socket|sockets|plug|panel|breaker|wire|wires|cable|switch|fusebox|fuse_box is|are|was|keeps|got? too? hot|burning|smoking|melting|melted|sparking|sizzling|crackling|charred|scorched|buzzing",
            ),
            p("electric|electrical shock|shocks"),
            p("got|been|getting shocked|zapped"),
            p("exposed|live|bare wire|wires"),
            p("flames|blaze").unless_previous(&["called", "named"]),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a flood or burst pipe",
        patterns: &[
            p(
                "ceiling|roof has|is|s|was? started|starting|begun|beginning? to? cave|caving|collapse|collapsing|fall|falling|sag|sagging|bulge|bulging|give_way|giving_way",
            ),
            p(
                "ceiling|roof is|s? dripping|leaking|sagging|collapsing|collapsed|bulging|caving|pouring",
            ),
            p(
                "water|leak|leaking|dripping through|from|in|out_of the? ceiling|light|lights|fixture|outlet|socket",
            ),
            p(
                "water|rain keeps|is|s? coming|pouring|leaking|dripping in? through|from the? ceiling|roof",
            ),
            p(
                "sewage|sewer is|s? backing|coming|overflowing|everywhere|backup|back|flooding|pouring",
            ),
            p("water rising|knee_deep|ankle_deep"),
            p("overflowing|overflow and? won_t|wont|can_t|cannot stop"),
            p("won_t|wont|can_t|cannot stop the? water|leak|leaking|flooding|overflowing"),
        ],
    },
    // Security: attempts to turn the assistant against its instructions.
    RuleSpec {
        intent: Intent::Security,
        reason: "tries to override the assistant's instructions",
        patterns: &[
            p(
                "ignore|ignoring|disregard|forget|override|bypass|skip all|any|the|your|my|of? previous|prior|above|earlier|preceding|initial|original|system|old|former instructions|instruction|prompt|prompts|rules|directions|guidelines|orders",
            ),
            p("forget|ignore|disregard everything|all you_were|you_ve_been|above|before"),
            p(
                "forget|ignore|disregard what|everything|anything you were|ve|are|have been? told|given|instructed|taught",
            ),
            p("system prompt|prompts|message|instructions"),
            p(
                "initial|hidden|secret|original|developer|internal|internal_system prompt|instructions|configuration|config",
            ),
            p("api|secret|private|access|admin|master key|keys|token|tokens"),
            p("admin|root|administrator password|access|panel|credentials|mode|login|account"),
            p("jailbreak|jailbroken|jailbreaking"),
            p("developer|dan|god|debug|unrestricted|sudo mode"),
            p("do anything now"),
            p("everything|all you_were|you_ve_been|you_are told|given|instructed"),
            p("you are|re now|no_longer"),
            p(
                "pretend|act|roleplay|behave you_are|as|like|to_be a|an|the? admin|administrator|developer|system|root|unrestricted|different|new|unfiltered",
            ),
            p("no|without any? restrictions|limits|filters|rules|guardrails|censorship"),
            p("new instructions|rules"),
            p(
                "reveal|print|dump|leak|expose your|the instructions|prompt|rules|configuration|secrets|keys|key",
            ),
            p("environment|env variables|vars"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports an account takeover",
        patterns: &[
            p(
                "someone|somebody|they|hacker else? changed|reset|updated my|the password|email|e_mail|phone|number|login|details|account|pin",
            ),
            p(
                "didn_t|did_not|never request|requested|ask|asked|make|made for? a|this|the|any|these? password|reset|code|codes|verification|otp|login|change|transfer|purchase",
            ),
            p("locked out"),
            p(
                "verification|security|login|2fa|otp|one_time|sms code|codes i? didn_t|did_not|never|keep",
            ),
            p("sim swap|swapped"),
            p("code|codes|otp|email|text i didn_t|did_not|never request|requested|ask|asked"),
            p(
                "i|we don_t|didn_t|did_not|never|can_t recognise|recognize|authorise|authorize|authorised|authorized",
            ),
            p(
                "on|to|in my card|account|statement i|we didn_t|did_not|never make|made|authorise|authorize|authorised|authorized",
            ),
            p(
                "unknown|strange|unrecognised|unrecognized|suspicious device|devices|login|logins|location",
            ),
            p("wasn_t|was_not|that_wasn_t|not me"),
            p(
                "access to|into his|her|their|my_ex_s|someone_else_s|another|my_husband_s|my_wife_s|my_neighbour_s account|accounts|email",
            ),
            p("someone|somebody else_s|elses account|card"),
            p("password|email for|on|of his|her|their|someone_else_s|another account"),
            p("logged|signed me out"),
            p("account is|was|has_been|got taken_over|hijacked|stolen"),
        ],
    },
    // Privacy and data rights.
    RuleSpec {
        intent: Intent::Privacy,
        reason: "exercises data protection rights",
        patterns: &[
            p(
                "delete|erase|remove|wipe|purge|destroy all? of? my|our|the? personal? data|information|info|account|details|records|history|profile",
            ),
            p("gdpr|ccpa|lgpd|dpdp|rgpd|dsgvo|hipaa"),
            p("right to be? forgotten|erasure|access|rectification|portability|object"),
            p("data subject|access|deletion|portability|erasure request|requests|rights"),
            p("subject access request|requests"),
            p(
                "what|which|how_much data|information|info|details do|does you|your|company|u store|keep|collect|hold|have|track|save|know",
            ),
            p(
                "data|information|info|details you|u store|keep|collect|hold|have|track|save about|on me",
            ),
            p("opt out of|from data|tracking|marketing|sharing|sale|selling"),
            p("do not|don_t sell|share my"),
            p(
                "sell|selling|sold|share|sharing|shared|give|giving|gave my data|information|info|details|email|number|address",
            ),
            p("copy of all? my|the data|information|info|records|personal"),
            p("who has access to my data|information"),
            p("data protection|privacy officer|authority|complaint|request"),
            p("stop using|processing|storing my data|information|info|details"),
            p("unsubscribe me and? delete"),
            p("every|all record|records|thing|data you|u have|hold|keep on|about me"),
            p("erase|delete|remove|wipe every|all record|records|trace"),
            p("opt me out"),
            p(
                "what|anything do|does you|u|your_company store|keep|hold|have|know|collect about|on me",
            ),
            p("data sharing|selling"),
            p("close|deactivate my account and delete"),
        ],
    },
    // More ways to ask for a person, to threaten, to complain.
    RuleSpec {
        intent: Intent::HumanRequested,
        reason: "asks for a human",
        patterns: &[
            p(
                "person|human|someone|somebody|agent|representative|manager i|we can|could talk|speak|chat",
            ),
            p("someone|somebody|agent|person|technician|manager call|phone|ring me|us"),
            p("call|phone|ring me back"),
            p("human|agent|person|representative|operator|manager please|now|asap"),
            p("escalate this|me|it"),
            p("member of staff|the_team"),
            p("staff|someone|somebody|person|agent|manager|technician ring|call|phone me|us|back"),
            p(
                "don_t|do_not|dont want|wanna to? talk|speak|chat to|with a|the|your? bot|robot|chatbot|machine|ai",
            ),
            p("are_there|is_there any humans|people|staff|person"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions suing or legal action",
        patterns: &[
            p("press|pressing|pressed charges"),
            p("take|taking|drag|dragging you|u|them to? court"),
            p("report|reporting you to the? police|authorities"),
            p("litigation|litigate"),
            p("sueing|suing"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "makes a complaint",
        patterns: &[
            p("ombudsman|regulator|trading_standards|consumer_protection|ftc"),
            p("formal complaint|grievance"),
            p("bad|negative|1_star|one_star review|reviews").unless_previous(&["no"]),
            p("unacceptable|outrageous|disgraceful|appalling|ridiculous"),
            p("contest|contesting the? charge|payment|bill|invoice"),
            p("ripped|ripping|rip me|us|you|them|people off"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "reports a wrong or failed charge",
        patterns: &[
            p("charged|billed me? twice|double|extra|more|wrong|too_much"),
            p("money|payment was|got? taken|deducted|debited twice"),
            p("payment|transfer|direct_debit didn_t|did_not|never go_through"),
            p("pay|paid my? bill|invoice"),
            p("account|card twice"),
            p("went|gone|came|taken|come|debited|paid out|through? twice"),
        ],
    },
];
