//! Opt-out replies: an SMS or WhatsApp answer that asks to stop. The carriers' and
//! CTIA's standard keywords (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, plus REVOKE and
//! OPTOUT, which the FCC's 2024 revocation rule, 47 CFR 64.1200(a)(10), names as reasonable
//! ways to revoke consent) and their common translations in the languages Starling writes
//! in. Like the carriers, a reply counts when it is the keyword alone (any case, accents,
//! surrounding spaces and punctuation ignored), so "stop." and "Stopp!" count and "don't
//! stop sending" does not.

/// Every keyword, folded (upper case, no accents, no spaces).
const KEYWORDS: &[&str] = &[
    // Carriers and CTIA (US), and the FCC's examples.
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    // German.
    "STOPP",
    "ABMELDEN",
    "ABBESTELLEN",
    "AUSTRAGEN",
    // French.
    "ARRET",
    "DESABONNER",
    "DESINSCRIRE",
    "DESINSCRIPTION",
    // Spanish and Portuguese.
    "PARAR",
    "BAJA",
    "CANCELAR",
    "DARSEDEBAJA",
    "SAIR",
    "DESCADASTRAR",
    // Italian.
    "FERMA",
    "BASTA",
    "DISISCRIVI",
    "CANCELLAMI",
    // Dutch, Swedish, Danish, Norwegian, Finnish, Polish, Czech.
    "STOPPEN",
    "AFMELDEN",
    "AVSLUTA",
    "AFMELD",
    "AVMELD",
    "LOPETA",
    "REZYGNUJE",
    "ODHLASIT",
    // Japanese, Chinese (退订 / TD is the usual reply in China), Korean.
    "停止",
    "配信停止",
    "退订",
    "TD",
    "取消订阅",
    "退訂",
    "수신거부",
];

/// The reply as keywords compare it: trimmed of spaces and punctuation, accents removed,
/// upper case, inner spaces dropped ("opt out" is OPTOUT).
fn fold(reply: &str) -> String {
    let trimmed = reply.trim_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation() || matches!(c, '¡' | '¿' | '。' | '！'));
    trimmed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ä' | 'À' | 'Á' | 'Â' | 'Ä' => 'A',
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'E',
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
            'ò' | 'ó' | 'ô' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Ö' => 'O',
            'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
            'ę' | 'Ę' => 'E',
            'ě' | 'Ě' => 'E',
            'š' | 'Š' => 'S',
            'ç' | 'Ç' => 'C',
            'ñ' | 'Ñ' => 'N',
            other => other.to_uppercase().next().unwrap_or(other),
        })
        .collect()
}

/// Whether a reply asks to stop all messages.
pub fn is_opt_out(reply: &str) -> bool {
    let folded = fold(reply);
    !folded.is_empty() && KEYWORDS.contains(&folded.as_str())
}

/// The opt-out line an SMS carries ("Reply STOP to opt out"), in the message's language.
pub fn opt_out_line(locale: &str) -> &'static str {
    match locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase().as_str() {
        "de" => "Abmelden: STOP antworten",
        "fr" => "STOP pour ne plus recevoir de SMS",
        "es" => "Responde STOP para darte de baja",
        "it" => "Rispondi STOP per non ricevere più SMS",
        "nl" => "Antwoord STOP om af te melden",
        "pt" => "Responda STOP para sair",
        "pl" => "Odpowiedz STOP, aby zrezygnować",
        "sv" => "Svara STOP för att avsluta",
        "ja" => "配信停止はSTOPと返信",
        "zh" => "回复TD退订",
        _ => "Reply STOP to opt out",
    }
}

/// Whether a text tells the reader how to opt out: it names STOP (or TD in Chinese, or a
/// local keyword) the way `opt_out_line` does.
pub fn names_opt_out(text: &str) -> bool {
    let upper = text.to_uppercase();
    upper.split(|c: char| !c.is_alphanumeric()).any(|word| matches!(word, "STOP" | "STOPP" | "TD" | "ARRET" | "BAJA"))
        || upper.contains("配信停止")
        || upper.contains("退订")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_keywords_count_alone_in_any_case() {
        for reply in
            ["STOP", "stop", " Stop. ", "STOPALL", "unsubscribe", "Cancel", "end", "QUIT", "revoke", "OptOut", "opt out", "opt-out"]
        {
            assert!(is_opt_out(reply), "{reply:?}");
        }
    }

    #[test]
    fn translations_count_with_or_without_accents() {
        for reply in [
            "Stopp!",
            "abmelden",
            "ARRÊT",
            "arret",
            "Désabonner",
            "baja",
            "¡Baja!",
            "parar",
            "ferma",
            "afmelden",
            "停止",
            "退订",
            "TD",
            "Rezygnuję",
        ] {
            assert!(is_opt_out(reply), "{reply:?}");
        }
    }

    #[test]
    fn a_sentence_that_mentions_a_keyword_is_not_an_opt_out() {
        for reply in ["don't stop sending", "Thanks!", "", "   ", "stop it please", "the end of the story", "STOP STOP"] {
            assert!(!is_opt_out(reply), "{reply:?}");
        }
    }

    #[test]
    fn every_opt_out_line_names_a_keyword_that_works() {
        for locale in ["en", "de-DE", "fr", "es", "it", "nl", "pt-BR", "pl", "sv", "ja", "zh-CN", "xx"] {
            let line = opt_out_line(locale);
            assert!(names_opt_out(line), "{locale}: {line}");
        }
        assert!(!names_opt_out("Thanks for your order"));
        assert!(!names_opt_out("Nonstop deals"), "a word containing STOP is not the keyword");
    }
}
