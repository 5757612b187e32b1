//! Rules in Spanish, written as customers type them (accents optional:
//! words are normalised before matching).

use crate::intents::Intent;
use crate::patterns::{RuleSpec, p};

pub(crate) static RULES: &[RuleSpec] = &[
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a gas leak or carbon monoxide",
        patterns: &[
            p("fuga|escape|olor|huele|oler|apesta a|de? gas"),
            p("huele|olor|apesta a|de huevo|huevos|podrido|azufre"),
            p("monoxido"),
            p("gas se|esta? escapa|escapando|sale|saliendo"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a fire, sparks or an electrical danger",
        patterns: &[
            p("incendio|incendios|llamas|fuego"),
            p("humo").unless_previous(&["de"]),
            p("lleno|nube|olor|columna|nubes de humo"),
            p("chispas|chispazos|chispazo|chisporrotea|chispea|chispeando"),
            p("se esta? quema|quemando|incendia|incendiando"),
            p("esta ardiendo"),
            p("olor a quemado|plastico_quemado"),
            p("cortocircuito|corto_circuito"),
            p(
                "enchufe|cable|cables|tomacorriente|panel|interruptor echa|echando|saca|sacando|bota|botando chispas|humo",
            ),
            p("descarga|descargas electrica|electricas"),
            p("me|le dio? la? corriente"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a flood or burst pipe",
        patterns: &[
            p("inundacion|inundado|inundada|inundando|inunda|inundo|inundaciones"),
            p("agua por|del|desde|en el? techo|cielo_raso|lampara|plafon"),
            p("cae|entra|sale|gotea|chorrea|brota agua"),
            p("tuberia|caneria|tubo|cano se? reventada|reventado|rota|roto|revento|rompio"),
            p("se revento|rompio la|el? tuberia|caneria|tubo|cano"),
            p("techo gotea|goteando|chorrea|chorreando|se_cae"),
            p("aguas negras"),
            p("no para de? salir? el? agua"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports an injury or medical emergency",
        patterns: &[
            p(
                "herido|herida|heridos|sangrando|sangra|inconsciente|desmayo|desmayado|desmayada|ambulancia|electrocutado|electrocutada",
            ),
            p("no puede|puedo|podemos respirar"),
            p("es|tengo|hay|tenemos una emergencia"),
            p("emergencia medica"),
            p("ataque al corazon"),
            p("se desmayo"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "tries to override the assistant's instructions",
        patterns: &[
            p(
                "ignora|ignore|ignorar|ignoren|olvida|olvidate|omite|descarta todas? las? tus? instrucciones|indicaciones|reglas|ordenes",
            ),
            p(
                "instrucciones|indicaciones|reglas anteriores|previas|del_sistema|originales|iniciales",
            ),
            p("prompt|mensaje del sistema"),
            p("clave|claves|llave de? la? api"),
            p(
                "revela|muestra|dime|dame|ensename|imprime tu|la|el|tus|las prompt|instrucciones|token|clave_secreta|claves",
            ),
            p("modo desarrollador|dios|sin_restricciones"),
            p("sin restricciones|limites|filtros"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports hacking or unauthorised access",
        patterns: &[
            p(
                "hackearon|hackeado|hackeada|hackeo|hackearon|pirateado|pirateada|piratearon|jaqueado|jaquearon",
            ),
            p(
                "robaron|robado|robada|robo mi|la|el|de? contrasena|cuenta|tarjeta|identidad|datos|clave",
            ),
            p("acceso|accesos no autorizado|autorizados"),
            p(
                "alguien entro|accedio|cambio|uso|ha_entrado|ha_cambiado a|en? mi cuenta|contrasena|correo|tarjeta|clave",
            ),
            p(
                "no reconozco|reconozco este|esta|estos|estas? cargo|cargos|inicio|acceso|compra|compras|dispositivo",
            ),
            p("suplantacion|suplantaron de? identidad"),
            p("no fui yo"),
            p("que no reconozco|reconocemos|autorice|hice"),
            p("finge|imagina|actua que? eres|como el|un? administrador|admin|desarrollador|root"),
            p("codigo|codigos que no pedi|solicite"),
            p("bloquearon mi cuenta"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports fraud or phishing",
        patterns: &[
            p("fraude|fraudulento|fraudulenta|phishing"),
            p("correo|mensaje|enlace|llamada sospechoso|sospechosa"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions suing or legal action",
        patterns: &[
            p("demanda")
                .unless_previous(&["alta", "mucha", "poca", "gran", "la", "llama", "llamada"]),
            p(
                "demandar|demandare|demandaremos|demandarlos|demandarles|demandarte|demandarlo|denunciar|denunciare|denunciaremos",
            ),
            p("juicio|tribunal|tribunales|juzgado"),
            p("accion|acciones legal|legales|judicial|judiciales"),
            p("via|proceso judicial"),
            p("denuncia|denuncias"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions a lawyer",
        patterns: &[
            p("abogado|abogados|abogada|abogadas"),
            p("asesoria legal|juridica"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "makes a complaint",
        patterns: &[
            p("reclamacion|reclamo|queja|quejas|reclamar|quejarme|reclamaciones"),
            p("hoja de reclamaciones"),
            p("libro de reclamaciones"),
            p("profeco|omic|defensa_del_consumidor"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "alleges a scam or rip-off",
        patterns: &[
            p("estafa|estafaron|estafadores|estafador|timo|timaron|robo"),
            p("son unos? ladrones"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "mentions a chargeback or payment dispute",
        patterns: &[
            p("contracargo|contracargos"),
            p("disputa|disputar|disputo"),
            p("anular|revertir el cargo|cobro|pago"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "demands a refund",
        patterns: &[
            p("devuelvan|devuelveme|devolverme mi? dinero"),
            p("quiero mi dinero"),
            p("devolucion de mi dinero"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "reports a wrong or failed charge",
        patterns: &[
            p(
                "cobro|cobros|cargo|cargos doble|dos_veces|de_mas|duplicado|duplicados|indebido|indebidos|incorrecto|extra",
            ),
            p(
                "me cobraron|cobraste|cobran|cobro|han_cobrado|cobrasteis dos_veces|de_mas|doble|mal",
            ),
            p("pago rechazado|fallido|fallo|rechazo"),
            p("tarjeta rechazada"),
            p("cobrado dos_veces|de_mas"),
            p(
                "esta|estan|aparece|aparecen|sale|salen duplicado|duplicada|duplicados|duplicadas|doble",
            ),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks for a refund",
        patterns: &[p("reembolso|reembolsar|reembolsen|reembolsos|reintegro")],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks about invoices or bills",
        patterns: &[p("factura|facturas|facturacion|facturado|facturaron")],
    },
    RuleSpec {
        intent: Intent::Privacy,
        reason: "exercises data protection rights",
        patterns: &[
            p(
                "borrar|borren|borrad|eliminar|eliminen|suprimir|supriman|borra|elimina todos? mis|mi? datos|informacion|cuenta|perfil",
            ),
            p("mis datos personales"),
            p("rgpd|gdpr|lopd|arco"),
            p("derecho al|de olvido|acceso|supresion|rectificacion|oposicion"),
            p("que datos|informacion tienen|guardan|almacenan|conservan|saben de|sobre mi"),
            p("que datos|informacion mia|mios tienen|guardan"),
            p("dejen de usar|compartir|vender mis datos"),
            p("venden|vendieron|compartieron|comparten mis datos"),
        ],
    },
    RuleSpec {
        intent: Intent::HumanRequested,
        reason: "asks for a human",
        patterns: &[
            p(
                "hablar|hablen|comunicarme|comunicar|conversar con una|un|el|la? persona|humano|agente|asesor|asesora|operador|operadora|representante|encargado|gerente|supervisor|alguien",
            ),
            p("persona real|humana|de_verdad"),
            p("agente|asesor|asesora|operador|operadora humano|humana|real"),
            p(
                "pasame|pasen|paseme|comunicame|comuniqueme|transfiera|transfiereme|transfierame con un|una|el|la? persona|humano|agente|asesor|asesora|operador|operadora|representante|encargado|gerente|supervisor",
            ),
            p("un|una humano|agente|persona por_favor"),
            p("quiero|necesito un|una|a_un|a_una humano|persona|agente|asesor|operador"),
            p("no quiero hablar con un|una? bot|robot|maquina"),
            p("que me llame|llamen alguien|una_persona|un_agente"),
        ],
    },
];
