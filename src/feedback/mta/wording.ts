/**
 * The wording that mail systems use in non-standard bounces, as data: how a report announces
 * itself (senders, subjects, opening sentences), where the report ends and the returned copy
 * of the message begins, how a delay warning differs from a failure, and how automatic
 * replies (RFC 3834) identify themselves. Patterns describe the common phrasing of each
 * family of mail systems rather than exact sample texts.
 *
 * @module
 */

/** Senders of bounces: the local part or display name of MAILER-DAEMON, postmaster and friends. */
export const BOUNCE_SENDER =
  /\b(?:mailer[-_ ]?daemon|post_?master|mail delivery (?:system|subsystem|service)|mail administrator|internet mail delivery|mail deliver(?:y)? system|nobody@|bounces?@|no-?reply@.*\bbounce|smtp gateway|mailerdaemon)\b/i;

/** Subjects of bounces and delay warnings (English and a few other languages). */
export const BOUNCE_SUBJECT =
  /undeliver|undelivered|returned mail|return(?:ed)? to sender|delivery (?:status notification|failure|failed|has failed|problem|report|notification|status)|failure (?:notice|delivery)|mail delivery|delivery (?:has been )?delayed|not (?:be )?delivered|could not (?:be )?(?:delivered|sent)|non[- ]?delivery|nondeliverable|mail system error|message delivery has failed|error sending|delivery failure|postmaster notify|warning: (?:could not send|message .{1,60} delayed)|delayed mail|there was an error sending|mail could not be delivered|message you sent blocked|your message could not be delivered|failed delivery|unzustellbar|nicht zustellbar|übermittlungsstatus|non remis|non-remise|échec de (?:la )?remise|état de (?:la )?remise|non recapitabile|mancato recapito|stato del recapito|no entregado|no se pudo entregar|estado (?:de|del) (?:la )?entrega|estado del envío|onbestelbaar|niet afgeleverd|levering mislukt|não entregue|falha na entrega|status de entrega|недоставлен|не доставлено|ошибка доставки|未送達|配信(?:不能|エラー|失敗)|(?:配信|送信|配送)に失敗|配信ステータス通知|エラー|退信|^(?:mail|nachricht) (?:delivery )?(?:failed|fehlgeschlagen)/i;

/** Opening sentences and section titles of bounce bodies. */
export const BOUNCE_BODY =
  /could not be delivered|couldn'?t be delivered|cannot be delivered|can ?not be delivered|was not delivered|were not delivered|has not been delivered|not be delivered|delivery (?:to the following recipients?|has failed|failed|to .{1,80} (?:failed|has been delayed))|wasn'?t able to deliver|was unable to deliver|were unable to deliver|unable to deliver|did not reach (?:the following|some or all)|following (?:address(?:es)?|recipients?)(?:\(s\))? (?:failed|had (?:permanent|transient)|could not|cannot|was|were|has|have)|permanent (?:fatal )?error|transcript of session follows|there was an error delivering|error (?:delivering|transferring)|delivery status notification|returned (?:mail|message)|message could not be sent|rejected (?:by|your message)|failed permanently|failure reasons|not listed in (?:public )?(?:name & address book|domino directory)|undeliverable|we had trouble delivering|your message to .{1,120} (?:was|has been) (?:rejected|blocked)|the following (?:message|mail) could not be delivered|delivery has been delayed|has been delayed|will be retried|delivery attempts? will continue|could not deliver|couldn'?t deliver|mailbox (?:is )?full|user unknown|no such user|was automatically rejected:/i;

/**
 * Lines where the report ends and the returned copy of the message (or its headers) begins.
 * Tested line by line, against lines of at most 200 characters.
 */
export const RETURNED_MESSAGE_MARKERS: readonly RegExp[] = Object.freeze([
  // Not a banner that says there is nothing to resend (Sendmail's `**  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **`).
  // The same framed titles in other languages (`--- Nachfolgend eine Kopie der Nachricht.`, `----- Message d'origine -----`).
  /^[ \t]*[-=_*#]{2,}.{0,40}(?:\b(?:original|returned|unsent|undelivered|rejected|attached|(?<!resend )your) (?:message|mail|e-?mail)\b|\bKopie (?:der|Ihrer) (?:urspr(?:ü|ue)nglichen )?Nachricht|\bOriginal(?:nachricht|meldung)\b|Urspr(?:ü|ue)ngliche Nachricht|\bMessage d'origine|\bcopie du message|\bMensaje original|\bcopia del mensaje|\bMessaggio originale|\bcopia del messaggio|\bOorspronkelijk bericht|元のメッセージ|元メール|原始邮件|原邮件)/i,
  /copy of (?:the|your) (?:original )?(?:message|mail)\b/i,
  /^[ \t]*(?:original|returned|unsent|undelivered) (?:message|mail)(?: (?:(?:as )?follows|headers?|is (?:below|attached)|was)\b|\s*:?\s*$)/i,
  /^[ \t]*(?:the )?(?:original )?message headers? (?:follows?|are|below)\b/i,
  /^[ \t]*(?:the )?headers? of (?:the|your) (?:original )?message/i,
  /\bheader of the original message\b/i,
  /^[ \t]*[-=]{2,}[ \t]*original mail info/i,
  /^[ \t]*Content-Type:[ \t]*(?:message\/rfc822|text\/rfc822-headers)/i,
  /^[ \t]*The original message (?:follows|headers|was):?\s*$/i,
  /^[ \t]*[-=]{2,}[ \t]*(?:Message|Mail) (?:text|body|headers?) (?:follows|below)/i,
  /^[ \t]*[-=*]{2,}.{0,10}(?:Returned|Original) (?:Message|Mail|content)/i,
  // qmail: `--- Enclosed are the original headers of the message.`, `--- Below this line is the original bounce.`
  /^[ \t]*-{2,}[ \t]*(?:Below this line is|Enclosed (?:is|are)) (?:a copy of )?(?:the )?(?:original |returned )?(?:headers?|message|mail|bounce)\b/i,
]);

/** A line that only repeats the original message's headers (not a recipient line). */
export const HEADER_ECHO_LINE =
  /^[ \t]*(?:>[ \t]*)?(?:message-id|from|to|cc|bcc|subject|date|sent|in-reply-to|references|received|return-path|sender|reply-to|x-[\w-]+|dkim-signature|arc-[\w-]+|authentication-results|content-[\w-]+|mime-version|envelope-from|x-original-to|delivered-to|list-[\w-]+|thread-[\w-]+|importance|organization|user-agent|errors-to)[ \t]*:/i;

/**
 * Subjects of the error mails of mailing list managers (fml: a post from a non-member, a mail
 * loop, a security alert), sent from the list's admin address rather than a mailer daemon.
 */
export const LIST_ERROR_SUBJECT = /^(?:Loop Alert|Loop Back Warning|Security Alert|fml system error message|NOT MEMBER article from|WARNING: UNIX FROM Loop)\b|\bnot (?:a )?member\b/i;

/** Text meaning the report is a delay warning: delivery is still being retried. */
export const DELAY_TEXT =
  /THIS IS A WARNING MESSAGE ONLY|YOU DO NOT NEED TO RESEND|not yet been delivered|delivery (?:to the following recipients? )?(?:has been|is|was) delayed|(?:will|shall) (?:continue to |keep )?(?:try|retry|attempt)(?:ing)?\b|will be retried|(?:still|continue) (?:being )?(?:retried|trying|to try)|delivery attempts? will continue|will try again|temporarily (?:unable|deferred)|warning:? (?:message|could not send)|delivery delayed|delayed (?:mail|delivery|message)|Delivery Status Notification \(Delay\)|delivery status notification: delayed|Delivery has been delayed/i;

/** Text meaning the sending system has given up: a final failure even if the wording mentions delays. */
export const FINAL_TEXT =
  /permanent(?:ly)? (?:error|failure|fatal|failed)|failed permanently|I've given up|has been given up|giving up|not going to try again|no further (?:delivery )?attempts|will not (?:try|attempt) (?:to )?(?:redeliver|again)|could not be delivered|retry (?:timeout|time) (?:exceeded|expired)|(?:message|delivery) (?:has )?expired|too long in (?:the )?queue|Delivery Status Notification \(Failure\)/i;

/** Subjects of automatic replies (RFC 3834 vacation and out-of-office messages). */
export const AUTOREPLY_SUBJECT =
  /^(?:(?:re|aw|sv|vs|antw|odp):\s*)?(?:auto(?:matic|matische|matisch)?[ -]?(?:reply|replied|response|antwort|answer|respuesta|réponse|risposta|svar)|out of (?:the )?office|ooo\b|away from|on vacation|vacation|abwesen|absence|absent|abwesenheitsnotiz|im urlaub|fuera de la oficina|ausente|réponse automatique|risposta automatica|respuesta autom[aá]tica|resposta autom[aá]tica|automatyczna odpowied|automatisch antwoord|afwezig|frånvaro|poza biurem|nicht im büro|自動応答|自動返信|不在)/i;

/** Header values of automatic replies other than `Auto-Submitted`. */
export const AUTOREPLY_HEADERS: readonly (readonly [name: string, value: RegExp])[] = Object.freeze([
  ['x-autoreply', /./],
  ['x-autorespond', /./],
  ['x-autoresponder', /./],
  ['x-autogenerated', /reply/i],
  ['x-auto-reply', /./],
  ['precedence', /^auto[_-]?reply$/i],
  ['x-precedence', /^auto[_-]?reply$/i],
  ['x-ms-exchange-inbox-rules-loop', /./],
  ['x-ms-exchange-generated-message-source', /autorespond|mailbox rules agent|out of office/i],
  ['x-mailer', /vacation|autorespond|autoreply/i],
]);

/** Hosts named by the common "this is the mail system at host X" openings. */
export const REPORTING_HOST =
  /(?:mail system at host|qmail-send program at|Generating server:|delivery status notification from|Mail Agent v[\d.]+ at|Message from|Reporting-MTA:\s*dns;)\s*\[?([A-Za-z0-9][\w.-]{1,253}[A-Za-z0-9])\]?/i;
