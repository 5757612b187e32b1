//! Rules in French, written as customers type them (accents optional:
//! words are normalised before matching).

use crate::intents::Intent;
use crate::patterns::{RuleSpec, p};

pub(crate) static RULES: &[RuleSpec] = &[
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a gas leak or carbon monoxide",
        patterns: &[
            p("fuite|odeur|sent|sens|pue de? gaz"),
            p("odeur d? oeuf|oeufs|œuf|œufs pourri|pourris"),
            p("odeur de soufre"),
            p("monoxyde"),
            p("ca sent le gaz"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a fire, sparks or an electrical danger",
        patterns: &[
            p("incendie|incendies|flammes"),
            p("au feu"),
            p("en feu"),
            p("il y a le feu"),
            p("feu dans|a|au|chez|de_cuisine"),
            p("prend|pris feu"),
            p("fumee"),
            p("etincelle|etincelles"),
            p("sent le brule"),
            p("odeur de brule|plastique_brule|cramé|crame"),
            p("court circuit"),
            p("court_circuit"),
            p("prise|cable|tableau|interrupteur electrique? fait|fume|chauffe|crepite|gresille"),
            p("decharge electrique"),
            p("electrocute|electrocutee"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a flood or burst pipe",
        patterns: &[
            p("inondation|inondations|inonde|inondee|inondé"),
            p("degat|degats des eaux"),
            p(
                "eau qui? coule|tombe|passe|goutte|fuit|coulait du|par|depuis|a_travers|de le|la? plafond|toit|mur",
            ),
            p("plafond qui? fuit|goutte|coule|s_effondre|gonfle"),
            p("canalisation|tuyau|conduite a? eclate|eclatee|percee|perce|casse|cassee|explose"),
            p("fuite d eau"),
            p("de l eau partout"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports an injury or medical emergency",
        patterns: &[
            p(
                "blesse|blessee|blesses|saigne|saigner|inconscient|inconsciente|ambulance|evanoui|evanouie|samu|pompiers|electrocute",
            ),
            p("ne respire plus|pas"),
            p("c est une urgence"),
            p("urgence medicale|vitale"),
            p("crise cardiaque"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "tries to override the assistant's instructions",
        patterns: &[
            p(
                "ignore|ignorez|ignorer|oublie|oubliez toutes? les|tes|vos? instructions|consignes|regles",
            ),
            p("instructions|consignes|regles precedentes|anterieures|systeme|initiales|d_origine"),
            p("prompt systeme"),
            p("cle|cles api|secrete|secretes"),
            p(
                "revele|montre|affiche|donne|donnez moi? ta|votre|la|le|tes|vos cle|cles|mot_de_passe|prompt|jeton|token|secret|instructions",
            ),
            p("mode developpeur"),
            p("sans restrictions|filtre|filtres"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports hacking or unauthorised access",
        patterns: &[
            p("pirate|pirat|piratee|piratage|hacke|hackee|hacké"),
            p("vole|volee|vol|on_a_vole mon|ma|mes|de? mot_de_passe|compte|carte|identite|donnees"),
            p("usurpation d identite"),
            p("acces non autorise"),
            p("quelqu un s est connecte"),
            p("quelqu un a accede|change|utilise|modifie"),
            p("je ne reconnais pas ce|cette|ces? prelevement|connexion|achat|appareil"),
            p("ce n est pas moi"),
            p("code que je n ai pas demande"),
            p("mon compte est bloque"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports fraud or phishing",
        patterns: &[
            p("hameconnage|phishing"),
            p("fraude|frauduleux|frauduleuse"),
            p("mail|email|sms|lien|appel suspect"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions suing or legal action",
        patterns: &[
            p("porter plainte"),
            p("plainte"),
            p("poursuites judiciaires"),
            p("vous|te|les poursuivre en? justice"),
            p("en justice"),
            p("saisir|saisis|saisirai|saisirons la justice|le_tribunal"),
            p("tribunal|tribunaux"),
            p("action en justice"),
            p("mise en demeure"),
            p("huissier"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions a lawyer",
        patterns: &[p("avocat|avocats|avocate|juriste")],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "makes a complaint",
        patterns: &[
            p("reclamation|reclamations"),
            p("me plaindre"),
            p("faire une reclamation"),
            p("associations de consommateurs"),
            p("service consommateur"),
            p("60 millions"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "alleges a scam or rip-off",
        patterns: &[p(
            "arnaque|arnaquer|arnaques|escroquerie|escroc|escrocs|voleurs",
        )],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "mentions a chargeback or payment dispute",
        patterns: &[
            p("litige|contester|conteste|contestation"),
            p("opposition sur|a la carte|le_paiement|le_prelevement"),
            p("rejet de? prelevement"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "demands a refund",
        patterns: &[
            p("rendez moi|nous mon|notre argent"),
            p("je veux mon argent"),
            p("rembourser integralement"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "reports a wrong or failed charge",
        patterns: &[
            p("preleve|debite|facture|facturee|prelevee|debitee deux_fois|en_double|a_tort|trop"),
            p("double prelevement|facturation|debit"),
            p("paiement refuse|echoue|rejete"),
            p("carte refusee"),
            p("on m a preleve|debite"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks for a refund",
        patterns: &[p("remboursement|rembourser|remboursez|remboursé|rembourse")],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks about invoices or bills",
        patterns: &[p("facture|factures|facturation")],
    },
    RuleSpec {
        intent: Intent::Privacy,
        reason: "exercises data protection rights",
        patterns: &[
            p(
                "supprimer|supprimez|effacer|effacez|supprime|efface toutes? mes|toutes_mes|mon donnees|informations|compte|coordonnees",
            ),
            p("rgpd|gdpr|cnil"),
            p("droit a l oubli|effacement"),
            p("droit d acces|d_opposition|de_rectification"),
            p("quelles donnees|informations avez|conservez|stockez|gardez|detenez vous|sur_moi"),
            p("quelles donnees|informations vous avez|conservez|stockez|gardez|detenez"),
            p("mes donnees personnelles"),
            p("arretez d utiliser|vendre|partager mes donnees"),
            p("vendez|partagez vous? mes donnees"),
        ],
    },
    RuleSpec {
        intent: Intent::HumanRequested,
        reason: "asks for a human",
        patterns: &[
            p(
                "parler|discuter a|avec un|une|le|la|votre? humain|conseiller|conseillere|agent|personne|responsable|operateur|vrai|vraie|quelqu_un",
            ),
            p("vraie|vrai personne|humain"),
            p("un humain"),
            p("pas un|de? robot|bot"),
            p("un conseiller s il vous plait"),
            p("qu on|quelqu_un me rappelle"),
            p(
                "conseiller|conseillere|agent|quelqu_un|technicien|responsable me rappelle|rappeler|contacte",
            ),
        ],
    },
];
