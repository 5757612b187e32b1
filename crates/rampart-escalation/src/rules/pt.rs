//! Rules in Portuguese, written as customers type them (accents optional:
//! words are normalised before matching).

use crate::intents::Intent;
use crate::patterns::{RuleSpec, p};

pub(crate) static RULES: &[RuleSpec] = &[
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a gas leak or carbon monoxide",
        patterns: &[
            p("vazamento|vazando|cheiro|fuga|cheirando|escapando de? gas"),
            p("gas vazando|escapando"),
            p("cheiro|cheirando de|a ovo|ovos podre|podres|enxofre"),
            p("monoxido"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a fire, sparks or an electrical danger",
        patterns: &[
            p("incendio|incendios|chamas|pegando_fogo|pegou_fogo"),
            p("fogo"),
            p("fumaca|fumo"),
            p("faisca|faiscas|faiscando|faiscou|soltando_faisca"),
            p("curto circuito"),
            p("curto_circuito"),
            p("cheiro de queimado|plastico_queimado"),
            p(
                "tomada|fio|fios|quadro|disjuntor soltando|saindo|esquentando|queimando|derretendo|faiscando",
            ),
            p("choque eletrico"),
            p("levei|tomei|tomou|levou um? choque"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a flood or burst pipe",
        patterns: &[
            p("inundacao|inundado|inundada|inundando|alagado|alagada|alagamento|enchente"),
            p(
                "agua pelo|do|no|vindo_do|caindo_do|escorrendo_do|descendo_do|entrando_pelo teto|forro|lustre",
            ),
            p("teto|forro pingando|vazando|desabando|caindo|encharcado"),
            p(
                "agua vazando|pingando|caindo|escorrendo|saindo|descendo? pelo|do|no|da teto|forro|lustre|parede",
            ),
            p("cano|canos|tubulacao estourou|estourado|estourada|rompeu|rompido|furado|arrebentou"),
            p("agua por todo_lado|toda_parte"),
            p("esgoto voltando|transbordando"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports an injury or medical emergency",
        patterns: &[
            p(
                "ferido|ferida|sangrando|inconsciente|desmaiou|desmaiado|desmaiada|ambulancia|samu|eletrocutado",
            ),
            p("nao consegue|consigo|conseguimos respirar"),
            p("e uma|e_uma emergencia"),
            p("emergencia medica"),
            p("ataque cardiaco"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "tries to override the assistant's instructions",
        patterns: &[
            p(
                "ignore|ignora|ignorar|esqueca|esquece|desconsidere|despreze todas? as? suas? instrucoes|regras|orientacoes|ordens",
            ),
            p("instrucoes|regras|orientacoes anteriores|previas|do_sistema|originais|iniciais"),
            p("prompt do sistema"),
            p("chave|chaves da? api|secreta|secretas"),
            p(
                "mostre|revele|diga|me_de|mostra|revela|imprima|passe sua|seu|a|o|suas|seus chave|chaves|senha|prompt|token|instrucoes",
            ),
            p("modo desenvolvedor"),
            p("sem restricoes|filtros|limites"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports hacking or unauthorised access",
        patterns: &[
            p("hackeado|hackeada|hackearam|hackeou|invadido|invadida|invadiram|invadiu|hackers"),
            p(
                "roubaram|roubado|roubada|roubo|clonaram|clonado|clonada minha|meu|de? senha|conta|cartao|identidade|dados|whatsapp",
            ),
            p("acesso nao autorizado"),
            p(
                "alguem entrou|acessou|mudou|alterou|usou|trocou minha|meu|na|no conta|senha|cartao|email|e_mail",
            ),
            p(
                "nao reconheco esta|essa|este|esse|estas|essas? compra|compras|cobranca|acesso|login|dispositivo",
            ),
            p("nao fui eu"),
            p("codigo que nao pedi|solicitei"),
            p("conta bloqueada"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports fraud or phishing",
        patterns: &[
            p("fraude|fraudulento|fraudulenta|phishing"),
            p("email|mensagem|link|ligacao suspeito|suspeita"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions suing or legal action",
        patterns: &[
            p("processar|processarei|processaremos|processa_los|processando|processo_judicial"),
            p("processo contra"),
            p("na justica"),
            p("entrar|ir|recorrer|acionar|acionarei|buscar|procurar na|a justica"),
            p("tribunal|juizado"),
            p("acao judicial|legal"),
            p("medidas|providencias legais|judiciais"),
            p("boletim de ocorrencia"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions a lawyer",
        patterns: &[p("advogado|advogada|advogados")],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "makes a complaint",
        patterns: &[
            p("reclamacao|reclamacoes|reclamar|queixa"),
            p("procon|reclame_aqui|reclameaqui|consumidor_gov"),
            p("reclame aqui"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "alleges a scam or rip-off",
        patterns: &[p(
            "golpe|golpista|golpistas|enganaram|enganado|ladroes|roubada",
        )],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "mentions a chargeback or payment dispute",
        patterns: &[p(
            "estorno|estornar|chargeback|contestar|contestacao|contesto",
        )],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "demands a refund",
        patterns: &[
            p("quero meu dinheiro"),
            p("meu dinheiro de? volta"),
            p("devolvam|devolvam_me|devolve|devolver meu dinheiro"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "reports a wrong or failed charge",
        patterns: &[
            p(
                "cobrado|cobraram|cobrou|cobrada duas_vezes|em_dobro|a_mais|indevida|indevidamente|errado|errada",
            ),
            p("cobranca|cobrancas duplicada|duplicadas|indevida|errada|a_mais|dupla"),
            p("pagamento recusado|falhou|nao_passou"),
            p("cartao recusado"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks for a refund",
        patterns: &[p("reembolso|reembolsar|reembolsem|ressarcimento")],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks about invoices or bills",
        patterns: &[p("fatura|faturas|boleto|boletos"), p("cobranca|cobrancas")],
    },
    RuleSpec {
        intent: Intent::Privacy,
        reason: "exercises data protection rights",
        patterns: &[
            p(
                "apagar|excluir|deletar|remover|apaguem|excluam|apague|exclua|removam todos? os? meus|meu|minha? dados|informacoes|conta|cadastro",
            ),
            p("meus dados pessoais"),
            p("lgpd|gdpr|rgpd|anpd"),
            p("que|quais dados|informacoes voces|vcs tem|guardam|armazenam|coletam sobre|de mim"),
            p("direito ao esquecimento|de_acesso"),
            p("parem de usar|vender|compartilhar meus dados"),
            p("vendem|venderam|compartilham|compartilharam meus dados"),
        ],
    },
    RuleSpec {
        intent: Intent::HumanRequested,
        reason: "asks for a human",
        patterns: &[
            p(
                "falar|conversar com um|uma|o|a? atendente|humano|pessoa|agente|gerente|supervisor|representante|alguem",
            ),
            p("atendente humano|real"),
            p("pessoa de verdade|real"),
            p("um humano|atendente por_favor"),
            p("quero|preciso de? um|uma humano|atendente|pessoa"),
            p("nao quero falar com um? robo|bot"),
            p("alguem me ligue|liga"),
            p("atendido|atendida por uma|um pessoa|humano|atendente"),
            p(
                "passa|passe|transfere|transfira|transferir para|pra um|uma|o|a? atendente|humano|pessoa|gerente",
            ),
        ],
    },
];
