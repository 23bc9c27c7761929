/**
 * The default classification table: ordered rules, as data. The first rule whose `when`
 * matches decides the category; see {@link ClassificationRule} for how the outcome follows.
 *
 * Order, from specific to generic:
 * 1. accepted replies;
 * 2. HTTP statuses and provider API error names (SES), which are not SMTP;
 * 3. provider signatures: permanent deferrals, then throttling (Gmail, Microsoft, Outlook.com,
 *    Yahoo/AOL, SES);
 * 4. library/OS error codes (network, TLS, authentication, local envelope errors);
 * 5. enhanced statuses precise enough to decide alone (5.1.1, 5.2.2, 5.7.26, ...), after the
 *    PTR/HELO/null-MX wording that providers attach to several statuses;
 * 6. greylisting and generic throttling wording;
 * 7. wording about the sender and policy (authentication, sender, relay, virus, block lists,
 *    reputation, spam, content, policy), then about the address (unknown user or host, moved,
 *    full, disabled, too large, expired, network);
 * 8. vague statuses (5.7.x, X.y.x by subject) and weak wording ("mailbox unavailable");
 * 9. reply code fallbacks (including HTTP-only statuses), then library error codes without a
 *    reply.
 *
 * Rule of thumb kept throughout: a rate-limit rule gives category `ratelimited` and lets the
 * reply class decide, so a 4xx is throttled and a 5xx fails for good (Yahoo: never retry a
 * 5xx); only explicit signatures (HTTP 429, SES throttling errors, Yahoo's "permanently
 * deferred") set the outcome themselves.
 *
 * @module
 */

import type { BounceCategory, Outcome } from '../types.js';

/** When a rule applies. Every field given must match; a rule with no field matches anything. */
export interface RuleCondition {
  /** Exact reply code(s), or a predicate (not called when no code is known). */
  readonly responseCode?: number | readonly number[] | ((code: number) => boolean);
  /**
   * Enhanced status: exact `x.y.z` string, or a RegExp tested against it. A missing status is
   * tested as the empty string, so `/^$/` means "no enhanced status".
   */
  readonly enhancedStatus?: string | RegExp;
  /**
   * RegExp tested against the normalized response text (see `normalizeResponseText`: one
   * line, at most `MAX_TEXT_LENGTH` characters). A missing text is tested as the empty string.
   */
  readonly text?: RegExp;
  /** Library/OS error code(s) (nodemailer `err.code`, `ECONNREFUSED`...), compared exactly. */
  readonly errorCode?: string | readonly string[];
}

/** What a rule decides. */
export interface RuleEffect {
  /**
   * The outcome. When absent it follows from the reply: 2xx accepted, 4xx transient, 5xx
   * permanent (without a code: the enhanced status class; without either: permanent for
   * local library errors such as `EENVELOPE`/`EAUTH`, else transient). A transient outcome
   * with category `ratelimited` becomes `throttled`, so a rate-limit rule throttles a 4xx and
   * fails a 5xx for good (a 5xx is never retried).
   */
  readonly outcome?: Outcome;
  /** The reason category. */
  readonly category: BounceCategory;
  /**
   * A permanent problem with the address itself (suppress it). Only meaningful for permanent
   * outcomes. @default `category` is in `HARD_CATEGORIES`
   */
  readonly hard?: boolean;
  /** Wait before the next attempt, in milliseconds, when the text gives no hint. */
  readonly retryAfterMs?: number;
}

/** One row of a classification table. */
export interface ClassificationRule {
  /** Stable id, reported as `Classification.rule` (for example `gmail-rate-4.7.28`). */
  readonly id: string;
  /** Why the rule exists and what it matches. */
  readonly description?: string;
  /** When the rule applies; all given fields must match. */
  readonly when: RuleCondition;
  /** What it decides. */
  readonly then: RuleEffect;
}

const CATEGORY_SET: Readonly<Record<BounceCategory, true>> = {
  delivered: true,
  userunknown: true,
  mailboxfull: true,
  hostunknown: true,
  filtered: true,
  blocked: true,
  spamdetected: true,
  policyviolation: true,
  expired: true,
  suspend: true,
  ratelimited: true,
  systemerror: true,
  systemfull: true,
  emailtoolarge: true,
  networkerror: true,
  norelaying: true,
  notaccept: true,
  securityerror: true,
  syntaxerror: true,
  rejected: true,
  virusdetected: true,
  authfailure: true,
  requireptr: true,
  badreputation: true,
  contenterror: true,
  notcompliantrfc: true,
  mailererror: true,
  hasmoved: true,
  onhold: true,
  mesgtoobig: true,
  undefined: true,
};

/** Every {@link BounceCategory}, for validation and documentation. */
export const BOUNCE_CATEGORIES: readonly BounceCategory[] = Object.freeze(Object.keys(CATEGORY_SET) as BounceCategory[]);

/** Every {@link Outcome}. */
export const OUTCOMES: readonly Outcome[] = Object.freeze(['accepted', 'transient', 'throttled', 'permanent'] as const);

/**
 * Categories that make a permanent failure "hard" by default: the address itself is
 * unusable (unknown user or host, moved, a domain that accepts no mail). Policy, content,
 * reputation and authentication failures are never hard: they are about the sender.
 */
export const HARD_CATEGORIES: ReadonlySet<BounceCategory> = new Set<BounceCategory>([
  'userunknown',
  'hostunknown',
  'hasmoved',
  'notaccept',
]);

/** Error codes of network failures (nodemailer, Node, undici, c-ares). */
export const NETWORK_ERROR_CODES: readonly string[] = Object.freeze([
  'ECONNECTION',
  'ESOCKET',
  'ETIMEDOUT',
  'EDNS',
  'EPROXY',
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENETRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ESOCKETTIMEDOUT',
  'ETIME',
  'ETIMEOUT',
  'ESERVFAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** Error codes meaning an operation timed out (a subset of {@link NETWORK_ERROR_CODES}). */
export const TIMEOUT_ERROR_CODES: readonly string[] = Object.freeze([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ETIME',
  'ETIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Error codes of refused credentials (nodemailer and AWS). */
export const AUTH_ERROR_CODES: readonly string[] = Object.freeze([
  'EAUTH',
  'ENOAUTH',
  'EOAUTH2',
  'AccessDenied',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidSignatureException',
  'MissingAuthenticationToken',
  'ExpiredToken',
  'ExpiredTokenException',
  'NotAuthorized',
]);

/** Error codes of TLS failures (nodemailer). */
export const TLS_ERROR_CODES: readonly string[] = Object.freeze(['ETLS', 'EREQUIRETLS']);

/** Provider errors meaning the sending account is paused as a whole (SES). */
export const PAUSED_ERROR_CODES: readonly string[] = Object.freeze(['SendingPausedException', 'AccountSendingPausedException']);

/**
 * Library error codes that are permanent when no reply says otherwise: the problem is local
 * (bad envelope, message, credentials, TLS setup), so sending the same thing again fails again.
 */
export const PERMANENT_LIBRARY_ERROR_CODES: readonly string[] = Object.freeze([
  'EAUTH',
  'ENOAUTH',
  'ETLS',
  'EREQUIRETLS',
  'EENVELOPE',
  'EMESSAGE',
  'EMAXRECIPIENTS',
  'ECONFIG',
  'EFILEACCESS',
  'EURLACCESS',
]);

/**
 * Pass this as `errorCode` (with the HTTP status as `responseCode`) for an HTTP API response
 * that has no provider error name, so that a 5xx reads as a transient HTTP server error and
 * not as a permanent SMTP reply.
 */
export const HTTP_ERROR_CODE = 'EHTTP';

const AWS_THROTTLING = ['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'TooManyRequests', 'RequestLimitExceeded', 'SlowDown'];
const AWS_SERVER = ['InternalFailure', 'InternalError', 'InternalServerError', 'InternalServerErrorException', 'ServiceUnavailable', 'ServiceUnavailableException', 'RequestTimeout', 'RequestTimeoutException'];
const AWS_BAD_REQUEST = ['BadRequestException', 'InvalidParameterValue', 'InvalidParameterCombination', 'MissingParameter', 'ValidationError', 'ValidationException'];

/**
 * HTTP client errors that SMTP never uses (RFC 5321 4yz codes are 421 and 450-455; 432 and
 * 454 come from RFC 4954). A response with one of them is an HTTP API refusal: permanent.
 * 408 (timeout) and 429 (too many requests) are not in the list: they are temporary.
 */
export const HTTP_PERMANENT_STATUSES: ReadonlySet<number> = new Set([400, 401, 402, 403, 404, 405, 406, 407, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 422, 423, 424, 425, 426, 428, 431]);

const isSuccess = (c: number): boolean => c >= 200 && c < 300;
const isClass5 = (c: number): boolean => c >= 500 && c < 600;
const isClass4 = (c: number): boolean => c >= 400 && c < 500;
const isHttpPermanent = (c: number): boolean => HTTP_PERMANENT_STATUSES.has(c);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

// Shared wording. Bounded quantifiers only ({0,n}), so no pattern can backtrack badly.
const TLS_TEXT =
  /\b(?:TLS|SSL)\b.{0,40}(?:required|not (?:available|supported|offered)|handshake|negotiat|failed|failure|error|version|)|(?:requires?|must use|must issue an?|need|needs|issue an?) (?:\w{1,20} ){0,2}(?:STARTTLS|TLS|encryption|encrypted|secure connection)|STARTTLS (?:is )?(?:required|first|needed|failed)|encryption (?:is )?(?:required|needed)|REQUIRETLS|(?:sent|delivered|over) (?:a |an )?(?:TLS|encrypted|secure) (?:connection|channel)|\bcertificate (?:verify|verification|has expired|expired|error|invalid|not trusted|rejected)|self[- ]signed certificate|unable to verify (?:the first )?certificate|wrong version number|does not match certificate/i;
const PTR_TEXT =
  /\bPTR\b|\bF?C?rDNS\b|reverse (?:DNS|lookup|hostname|mapping|resolution|name)|cannot find your (?:reverse )?hostname|(?:client|sending|your) (?:host|IP|address) .{0,60}(?:does not|doesn't|did not|didn't|not) resolve|no (?:reverse|PTR)|(?:forward|reverse) DNS (?:entry|record|does not match)/i;
const HELO_TEXT =
  /\b(?:HELO|EHLO)\b(?: command)?.{0,40}(?:rejected|invalid|not (?:a )?(?:valid|fully|FQDN|allowed)|fully[ -]qualified|bogus|forged)|invalid (?:HELO|EHLO)|need fully[ -]qualified hostname|(?:bad|invalid|bogus) (?:helo|hostname) /i;
const RATE_TEXT =
  /\brate[ -]?limit|\bratelimit|\bthrottl|slow(?:ing)? down|too (?:many|much) (?:\w{1,20} ){0,2}(?:connections?|messages|mails?|e-?mails|sessions|requests|deliveries|traffic|commands|data)(?! in (?:the |this |your |his |her |their )?(?:mail ?box|folder|inbox))|too many (?:concurrent|simultaneous|parallel)|(?:too fast|too quickly|too frequent)|(?:exceed|exceeded|exceeds|exceeding|over) (?:the |your |its |our )?(?:\w{1,20} ){0,3}(?:rate|sending limit|send limit|connection limit|message limit|hourly limit|daily limit)\b|(?:sending|message|connection|send|hourly|daily|per[ -]hour|per[ -]day) (?:user )?(?:sending )?(?:rate|quota|limit)s? (?:\w{1,20} ){0,2}(?:exceeded|reached|hit)|maximum (?:number of )?(?:\w{1,20} ){0,2}(?:connections|sessions)|(?:server|system|service) (?:is )?(?:too )?busy|(?:temporarily|has been|have been|being) (?:rate[ -])?limited|unexpected volume|temporarily deferred|receive limit|frequency limit|connection (?:count|rate) (?:limit|exceeded)|(?:sending|send|outbound) (?:message )?quota|(?:daily|hourly) (?:\w{1,20} )?(?:quota|limit)/i;
const SENDER_TEXT =
  /\bsender (?:address |domain |e-?mail )?(?:rejected|refused|denied|blocked|unknown|invalid|not (?:allowed|permitted|authorized|accepted))|sender verif(?:y|ication) failed|unverified sender|(?:envelope[ -]from|mail from|return[ -]path|from address|from domain) (?:address |domain )?(?:\w{1,20} ){0,2}(?:is )?(?:invalid|rejected|not allowed|unknown|does not exist)|domain of sender address .{0,80}does not exist|(?:bad|invalid|unknown|unroute?able|unverifi?able|unverified|forged) sender|sender .{0,40}not (?:allowed|permitted|authorized)/i;
const RELAY_TEXT =
  /\brelay(?:ing)? (?:access )?(?:denied|not (?:permitted|allowed|authorized)|prohibited|disallowed|refused|forbidden|not available)|(?:unable|not permitted|not allowed|not authorized|not configured|denied|refused|cannot|can't|we do not|don't) (?:\w{1,20} ){0,2}relay\b|relay not permitted|no relaying|isn't in my list of allowed rcpthosts|not in my list of allowed rcpthosts|not (?:a )?local (?:domain|recipient)|not our customer|open relay|relay access/i;
const AUTH_TEXT =
  /\b(?:SPF|DKIM|DMARC|ARC)\b.{0,60}(?:fail|not pass|did not pass|didn't pass|invalid|error|softfail|reject|policy|quarantine|not authori[sz]ed|record|align|check|verif|validat|missing|required|none)|(?:fail|failed|failure|invalid|bad|missing|no|without|broken|not pass) (?:\w{1,20} ){0,3}(?:SPF|DKIM|DMARC)\b|(?:not (?:authori[sz]ed|permitted|allowed)|unauthori[sz]ed) .{0,100}\bSPF\b|sender policy framework|domainkeys|authentication (?:checks|information|results)|(?:mail|message|e-?mail|sender) (?:is |was )?unauthenticated|unauthenticated (?:e-?mail|mail|message)|isn't aligned|not aligned|alignment|(?:identit(?:y|ies)|e-?mail address|domain) (?:is |are )?not verified|failed the check/i;
/** Demands for SMTP AUTH and refused credentials. */
const SMTP_AUTH_TEXT =
  /smtp auth|authentication (?:is )?(?:required|needed|failed|failure|credentials|mechanism|unsuccessful|rejected)|turn on (?:smtp )?authentication|(?:must|please|need to) (?:\w{1,20} ){0,2}authenticate|unauthenticated (?:senders?|relay|users?|connections?|clients?)|not authenticated|username and password not accepted|invalid (?:credentials|login|username|password)|password (?:incorrect|invalid|required)|application-specific password/i;
const VIRUS_TEXT = /virus|malware|infected|trojan|ransomware|malicious (?:content|attachment|code|software|file|link)/i;
const CONTENT_TEXT =
  /(?:invalid|malformed|missing|duplicate|bad|illegal|too many|long|broken|unsupported) (?:\w{1,20} ){0,2}headers?\b|headers? (?:\w{1,20} ){0,2}(?:invalid|malformed|missing|too long|error)|header error|message-id|\bRFC ?(?:822|2822|5322|5321|2045)\b|not (?:RFC )?compliant|8[ -]?bit|bare (?:LF|CR|linefeed|newline)|(?:invalid|malformed) mime|malformed|potential security issue|executable|attachment|file ?(?:name|type|extension) .{0,40}(?:not allowed|blocked|prohibited|rejected)|content (?:\w{1,20} ){0,1}(?:restriction|not allowed|not accepted|refused|is not acceptable)|unacceptable content|invalid content|multiple addresses in from|(?:message|mail) (?:body|content) (?:\w{1,20} ){0,2}(?:invalid|rejected)/i;
const BLOCKLIST_TEXT =
  /blacklist|blocklist|block list|black list|denylist|deny list|spamhaus|spamcop|barracuda|sorbs|uceprotect|abuseat|\b(?:RBL|DNSBL|RHSBL|DNSRBL|CBL|PBL|SBL|XBL)\b|blocked using|listed (?:at|on|in|by) |(?:client|sending|your|the) (?:host|IP|server|network)(?: address)? (?:\S{1,60} ){0,3}(?:is |has been |was )?(?:blocked|banned|blacklisted|blocklisted|listed|rejected)|banned sending ip|traffic not accepted|access denied, (?:banned|bad|traffic|spam|sending ip)|(?:your|sender|sending) (?:account|domain|server|host|network|ip) (?:\w{1,20} ){0,3}(?:suspended|disabled|paused|blocked|banned)|dynamic(?:ally[ -]assigned)? (?:ip|address|range)|dial-?up|residential (?:ip|address)|client host (?:\S{1,60} )?rejected|connection (?:refused|rejected|denied) (?:from|for) (?:your|this|\[)/i;
const SPAM_TEXT =
  /spam|unsolicited|junk (?:e-?)?mail|bulk (?:e-?)?mail|\bUBE\b|\bUCE\b|content filter|phishing|\bscam\b|fraud|suspicious|scored (?:too high|as)|score .{0,20}(?:exceed|too high)|considered (?:as )?(?:spam|bulk|junk)|content (?:filter|rejected)/i;
const POLICY_TEXT = /\bpolic(?:y|ies)\b|prohibit|administrative(?:ly)?|violation|not (?:allowed|permitted) by|against (?:our|the) (?:rules|terms)/i;
const USER_UNKNOWN_TEXT =
  /user unknown|unknown user|no such (?:user|mailbox|recipient|account|address|person|local user)|(?:user|mailbox|account|address|recipient|addressee|e-?mail(?: account| address)?|local[ -]part) (?:\w{1,20} ){0,3}(?:does not|doesn't|did not|didn't|does no longer|no longer) exist|unknown (?:or illegal )?(?:recipient|mailbox|address|local[ -]?part|alias|account|e-?mail)|recipient (?:address )?(?:not found|unknown|does not exist|invalid|is not valid|not valid|is unknown|not recognized)|(?:user|mailbox|recipient|account|address) (?:was |is )?not found|mailbox (?:does not exist|unknown|not present)|not a valid (?:mailbox|recipient|user|e-?mail|address)|not an? (?:known|valid) (?:user|recipient|mailbox)|addressee unknown|no mailbox (?:here|by that name|for)|RecipNotFound|RecipientNotFound|doesn't have an? [\w.-]{1,60} account|invalid (?:recipient|mailbox|e-?mail address|address|user|destination)|undeliverable address|bad (?:recipient|destination)(?: mailbox)?(?: address)?|non-?existent (?:user|mailbox|recipient|address|account)|(?:account|mailbox|address) (?:\w{1,20} ){0,2}(?:has been |was |is )?(?:closed|deleted|removed|terminated|cancell?ed|discontinued)|no longer (?:valid|available|in use|active|exists?|accepting)|recipient no longer|(?:user|recipient) (?:is )?not (?:a )?(?:registered|known)|(?:user|name) is (?:not recognized|unknown)|address (?:is )?(?:not|no longer) (?:valid|in use)|destin(?:ation|atario) (?:invalido|inv[aá]lido|desconocido)|unbekannt|inexistant|inconnu/i;
const HOST_UNKNOWN_TEXT =
  /host (?:or domain name )?not found|(?:host|domain) unknown|domain (?:name )?not found|unknown (?:host|domain)|no such (?:host|domain)|(?:domain|host|hostname) (?:\S{1,60} ){0,2}(?:does not|doesn't|did not) exist|unrouteable|unroutable|\bno (?:valid )?MX\b|MX (?:record )?(?:lookup )?(?:not found|failed)|NXDOMAIN|non-?existent (?:domain|host)|name or service not known|domain (?:\S{1,60} )?(?:is )?not (?:registered|resolvable|valid)|not a valid (?:domain|host)|InfoDomainNonexistent|NonExistentDomain|all relevant MX records point to non-existent hosts|(?:no|unable to find) (?:mail )?(?:route|routes) to|(?<![@\w.-])(?:[a-z0-9-]{1,63}\.){1,10}[a-z]{2,24}\.?:? (?:does not|doesn't) exist/i;
const MOVED_TEXT = /user not local|has moved|moved permanently|new (?:e-?mail )?address is|please try <|forwarding address|address has changed/i;
const SUSPEND_TEXT =
  /(?:account|mailbox|user|address|recipient|inbox)(?: \S{1,40}){0,2} (?:is |has been |was |are |temporarily )?(?:disabled|suspended|inactive|deactivated|locked|frozen|blocked|on hold|expired|not active|unavailable temporarily)|(?:disabled|suspended|inactive|deactivated|locked|frozen|expired) (?:e-?mail )?(?:account|mailbox|user|recipient)|(?:mailbox|account|user) (?:is )?not accepting (?:any )?(?:messages|mail|e-?mail)/i;
const NOT_ACCEPT_TEXT =
  /null MX|does not accept (?:any )?(?:e-?)?mail|doesn't (?:accept|receive) (?:any )?(?:e-?)?mail|(?:host|domain|server|system)(?:\/domain)? (?:\S{1,60} ){0,2}(?:does not|doesn't|will not|is not) (?:accept|receiv)|no SMTP service|accepts no (?:e-?)?mail/i;
const MAILBOX_FULL_TEXT =
  /mail ?(?:box|folder) (?:\w{1,20} ){0,2}(?:is )?full|(?:over|exceeded|exceeds|exceeding|above|reached) (?:the |his |her |their |its |your |my )?(?:\w{1,20} )?(?:quota|storage (?:limit|allocation|quota))|quota (?:exceeded|full|reached|violation)|(?:mailbox|inbox|disk|storage|space) (?:size )?(?:limit|quota) (?:exceeded|reached)|inbox (?:is )?full|insufficient (?:mailbox )?(?:space|storage) (?:for|in) (?:the )?(?:user|mailbox|recipient)|mail ?box (?:\w{1,20} ){0,2}(?:has )?exceeded|exceeded storage allocation|(?:user|recipient) has (?:no|insufficient) (?:space|storage)|out of storage space for user|QuotaExceeded|too many messages in (?:the |this )?(?:mailbox|folder|inbox)|mailbox (?:is )?overfull|box full/i;
const TOO_LARGE_TEXT =
  /(?:message|mail|e-?mail|data) (?:\w{1,20} ){0,2}(?:too (?:big|large|long)|exceeds|exceeded|larger than)|\bsize (?:\w{1,20} ){0,2}(?:exceeds|exceeded|too (?:big|large)|limit)|exceeds (?:the )?(?:\w{1,20} ){0,3}size|too (?:big|large) for|message length|larger than (?:allowed|the maximum|permitted)|maximum (?:message )?size|payload too large|entity too large|SendSizeLimit|mesg too big/i;
const SYSTEM_FULL_TEXT = /insufficient (?:system )?(?:storage|resources|disk|space)|(?:disk|system|storage|file ?system) (?:is )?full|out of (?:disk )?space|no space left|system resources|UsedDiskSpace/i;
const EXPIRED_TEXT =
  /(?:message|delivery|retry) (?:time ?out|timeout|time|period) (?:has )?(?:exceeded|expired)|retry timeout exceeded|message (?:has )?expired|expired (?:message|in queue|after)|too long in (?:the )?queue|(?:could not|couldn't|unable to|cannot) (?:be )?deliver(?:ed)? (?:\S{1,40} ){0,6}(?:for|in|within|after) (?:\d{1,4}|one|two|three|four|five) (?:days?|hours?)|max(?:imum)? (?:queue )?(?:lifetime|age|time) (?:exceeded|reached)|delivery (?:has )?expired|queue lifetime|message delayed|(?:has|have) not been delivered (?:yet|for)|delivery (?:is |was )?delayed|will (?:continue|keep) (?:to )?(?:try|retry)|giving up|(?:have|has) been failing for a long time|(?:been )?in the queue too long|failed \d{1,4} (?:delivery )?attempts|after \d{1,4} (?:delivery )?attempts/i;
const NETWORK_TEXT =
  /connection (?:\w{1,20} ){0,2}(?:refused|reset|timed? ?out|lost|dropped|closed|failed|aborted|interrupted)|lost connection|(?:could not|couldn't|unable to|failed to|cannot) (?:establish (?:a )?)?connect|connect(?:ion)? to .{0,120}(?:failed|refused|timed out)|no route to host|network is unreachable|host (?:is )?unreachable|timed? ?out|time-?out|greeting never received|socket (?:error|hang up|closed)|SocketError|broken pipe|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOTFOUND|\bDNS\b.{0,40}(?:failed|failure|error|timeout|timed out|problem|no relevant answers)|(?:temporary|temporarily) (?:DNS|lookup|name server|resolution) (?:failure|error)|name server|hop count|routing loop|mail loop|loop detected|too many hops|looping/i;
const SYSTEM_TEXT =
  /service (?:is )?(?:currently |temporarily )?(?:unavailable|not available)|internal (?:server |system )?error|system (?:error|problem|failure)|local (?:error|problem)|temporary (?:server |system |local )?(?:error|failure|problem)|mail ?system problem|server (?:error|failure|problem)|try again later|temporarily unavailable|resources temporarily unavailable|configuration (?:error|problem)|mailer error|processing error|out of memory/i;
const SYNTAX_TEXT =
  /syntax|command (?:not )?(?:unrecognized|recognized|implemented)|unrecognized command|unknown command|not implemented|bad sequence|out of sequence|line too long|invalid (?:command|argument|parameter)|parameters? not (?:recognized|implemented)|pipelining|need (?:mail|rcpt|helo|ehlo)\b|(?:mail|rcpt|helo|ehlo) (?:command )?first|must (?:precede|come first)/i;
const GREYLIST_TEXT = /\bgr[ae]y[ -]?list|\bgr[ae]ylisted|\bgr[ae]ylisting/i;
const WEAK_USER_TEXT = /mail ?box (?:is )?(?:currently )?unavailable|recipient (?:address )?rejected|address rejected|recipient not accepted|rejected recipient|recipient (?:is )?(?:invalid|not allowed)|mailbox (?:is )?not (?:available|accessible)/i;

/**
 * The default rule table. Frozen; build your own by prepending rules through
 * `createClassifier({ rules })` or by spreading it into a new array with `replaceDefaults`.
 */
export const defaultClassificationRules: readonly ClassificationRule[] = deepFreeze([
  // ---------------------------------------------------------------- 1. accepted
  {
    id: 'accepted-2xx',
    description: 'A 2xx reply (SMTP or HTTP) accepted the message or recipient.',
    when: { responseCode: isSuccess },
    then: { category: 'delivered' },
  },

  // ---------------------------------------------------------------- 2. HTTP and provider APIs
  {
    id: 'http-429',
    description: 'HTTP 429 Too Many Requests: throttled (429 is never an SMTP code).',
    when: { responseCode: 429 },
    then: { outcome: 'throttled', category: 'ratelimited' },
  },
  {
    id: 'http-5xx',
    description: `An HTTP 5xx (errorCode '${HTTP_ERROR_CODE}'): a transient server error, unlike an SMTP 5xx.`,
    when: { errorCode: HTTP_ERROR_CODE, responseCode: isClass5 },
    then: { outcome: 'transient', category: 'systemerror' },
  },
  {
    id: 'http-5xx-reason',
    description: 'HTTP 500/502/503/504 with its reason phrase (Internal Server Error, Bad Gateway, ...): transient.',
    when: {
      responseCode: [500, 502, 503, 504],
      text: /^(?:HTTP\/\d(?:\.\d)? )?(?:50[0234] )?(?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out)\b/i,
    },
    then: { outcome: 'transient', category: 'systemerror' },
  },
  {
    id: 'http-5xx-bare',
    description: 'A bare 500/502/503/504 without text or enhanced status comes from HTTP (SMTP replies carry text): transient.',
    when: { responseCode: [500, 502, 503, 504], text: /^$/, enhancedStatus: /^$/ },
    then: { outcome: 'transient', category: 'systemerror' },
  },
  {
    id: 'aws-daily-quota',
    description: 'SES daily sending quota exhausted: throttle the transport for an hour rather than retry each message soon.',
    when: { errorCode: [...AWS_THROTTLING, 'LimitExceededException'], text: /daily (?:message |sending )?quota|sending quota|quota exceeded/i },
    then: { outcome: 'throttled', category: 'ratelimited', retryAfterMs: HOUR },
  },
  {
    id: 'aws-throttling',
    description: 'SES/AWS throttling errors (Throttling, TooManyRequestsException), whatever HTTP status they came with.',
    when: { errorCode: AWS_THROTTLING },
    then: { outcome: 'throttled', category: 'ratelimited' },
  },
  {
    id: 'aws-limit-exceeded',
    description: 'SES LimitExceededException (daily quota): pause until it resets.',
    when: { errorCode: 'LimitExceededException' },
    then: { outcome: 'throttled', category: 'ratelimited', retryAfterMs: HOUR },
  },
  {
    id: 'aws-sending-paused',
    description: 'SES sending paused for the account or configuration set: the whole transport is paused; retry later.',
    when: { errorCode: PAUSED_ERROR_CODES },
    then: { outcome: 'transient', category: 'blocked' },
  },
  {
    id: 'aws-account-suspended',
    description: 'SES account suspended: nothing will be sent until the account is restored.',
    when: { errorCode: 'AccountSuspendedException' },
    then: { outcome: 'permanent', category: 'blocked' },
  },
  {
    id: 'aws-server-error',
    description: 'AWS server-side errors (InternalFailure, ServiceUnavailable): transient.',
    when: { errorCode: AWS_SERVER },
    then: { outcome: 'transient', category: 'systemerror' },
  },
  {
    id: 'aws-credentials',
    description: 'AWS credential and signature errors: permanent until the configuration is fixed.',
    when: { errorCode: AUTH_ERROR_CODES.filter((c) => !c.startsWith('E')) },
    then: { outcome: 'permanent', category: 'authfailure' },
  },
  {
    id: 'aws-mail-from-not-verified',
    description: 'SES MailFromDomainNotVerifiedException: the sending domain is not verified.',
    when: { errorCode: 'MailFromDomainNotVerifiedException' },
    then: { outcome: 'permanent', category: 'authfailure' },
  },

  // ---------------------------------------------------------------- 3. provider signatures
  {
    id: 'yahoo-permanent-deferral',
    description:
      'Yahoo [TS03]/[TSS09] "permanently deferred; retrying will NOT succeed": permanent even when sent as 421 (Yahoo: never retry these).',
    when: { text: /permanently deferred|retrying will not succeed/i },
    then: { outcome: 'permanent', category: 'blocked' },
  },
  {
    id: 'gmail-unsolicited-block',
    description: 'Gmail 550 5.7.1 "unusual rate of unsolicited mail ... has been blocked": the IP is blocked (a 5xx is not a throttle).',
    when: { responseCode: isClass5, text: /unusual rate of unsolicited/i },
    then: { category: 'blocked' },
  },
  {
    id: 'gmail-rate-4.7.28',
    description: 'Gmail 421 4.7.28 unusual rate of unsolicited mail from your IP/DKIM/SPF domain: stop for at least 10 minutes.',
    when: { enhancedStatus: /^[45]\.7\.28$/ },
    then: { category: 'ratelimited', retryAfterMs: 10 * MINUTE },
  },
  {
    id: 'gmail-unsolicited-rate',
    description: 'Gmail "unusual rate of unsolicited mail ... temporarily rate limited" under another status: as 4.7.28.',
    when: { text: /unusual rate of unsolicited/i },
    then: { category: 'ratelimited', retryAfterMs: 10 * MINUTE },
  },
  {
    id: 'gmail-try-again-later',
    description: 'Gmail 421 4.7.0 "Try again later, closing connection": throttled, back off exponentially.',
    when: { text: /try again later,? closing connection/i },
    then: { category: 'ratelimited' },
  },
  {
    id: 'recipient-receiving-too-fast',
    description: 'Gmail 450 4.2.1 "receiving mail too quickly / at a rate that prevents additional messages": throttled for that recipient (a 5xx variant fails).',
    when: { text: /receiving (?:mail|messages|e-?mail) (?:too (?:quickly|fast)|at a rate)|rate that prevents additional messages/i },
    then: { category: 'ratelimited' },
  },
  {
    id: 'microsoft-4.7.500-699',
    description: 'Microsoft 451 4.7.500-4.7.699 (ASxxx, "Server busy. Please try again later", IP reputation rate limits): throttled, never hard.',
    when: { enhancedStatus: /^4\.7\.[56]\d\d$/ },
    then: { category: 'ratelimited' },
  },
  {
    id: 'outlook-rp',
    description: 'Outlook.com 421 RP-001/002/003: rate or connection limits; lower concurrency.',
    when: { text: /\bRP-00[1-3]\b/ },
    then: { category: 'ratelimited' },
  },
  {
    id: 'outlook-block-codes',
    description: 'Outlook.com SC-00x/DY-00x/OU-00x: the sending IP or network is blocked.',
    when: { text: /\b(?:SC|DY|OU)-00\d\b/ },
    then: { category: 'blocked' },
  },
  {
    id: 'yahoo-tss04',
    description: 'Yahoo 421 4.7.0 [TSS04] "temporarily deferred due to unexpected volume or user complaints": retry after about 4 hours.',
    when: { text: /\[TSS04\]|temporarily deferred due to (?:unexpected volume|user complaints)/i },
    then: { category: 'ratelimited', retryAfterMs: 4 * HOUR },
  },
  {
    id: 'yahoo-deferral-codes',
    description: 'Other Yahoo/AOL deferral codes ([TSS0x], [GL0x], DYN:T1): throttled.',
    when: { text: /\[(?:TSS?\d\d|GL\d\d)\]|\bDYN:T\d\b/ },
    then: { category: 'ratelimited' },
  },
  {
    id: 'ses-daily-quota',
    description: 'SES SMTP 454 "Throttling failure: Daily message quota exceeded": throttle for an hour.',
    when: { text: /daily message quota exceeded/i },
    then: { category: 'ratelimited', retryAfterMs: HOUR },
  },
  {
    id: 'ses-throttling',
    description: 'SES SMTP 454 "Throttling failure: Maximum sending rate exceeded".',
    when: { text: /throttling failure|maximum sending rate exceeded/i },
    then: { category: 'ratelimited' },
  },

  // ---------------------------------------------------------------- 4. library and OS errors
  {
    id: 'network-error',
    description: 'Connection, socket, DNS and timeout errors of nodemailer, Node or undici: network trouble, transient unless a reply says otherwise.',
    when: { errorCode: NETWORK_ERROR_CODES },
    then: { category: 'networkerror' },
  },
  {
    id: 'tls-error',
    description: 'nodemailer ETLS/EREQUIRETLS: TLS handshake failed or required TLS is missing (permanent without a 4xx reply).',
    when: { errorCode: TLS_ERROR_CODES },
    then: { category: 'securityerror' },
  },
  {
    id: 'tls-required',
    description: 'Replies demanding or failing TLS ("Must issue a STARTTLS command first", "TLS required", TLS 1.0 not supported).',
    when: { text: TLS_TEXT },
    then: { category: 'securityerror' },
  },
  {
    id: 'auth-error',
    description: 'nodemailer EAUTH/ENOAUTH/EOAUTH2: our credentials were refused (transient only with a 4xx such as 454).',
    when: { errorCode: ['EAUTH', 'ENOAUTH', 'EOAUTH2'] },
    then: { category: 'authfailure' },
  },
  {
    id: 'local-message-too-large',
    description: 'nodemailer EMESSAGE "Message size larger than allowed" (the server SIZE limit, checked before sending).',
    when: { errorCode: 'EMESSAGE', enhancedStatus: /^$/, text: /larger than allowed/i },
    then: { category: 'emailtoolarge' },
  },
  {
    id: 'local-envelope-error',
    description: 'nodemailer envelope checks without a reply ("No recipients defined", "Invalid recipient"): permanent syntax errors.',
    when: { errorCode: ['EENVELOPE', 'EMESSAGE'], enhancedStatus: /^$/, text: /^(?:no recipients defined|invalid (?:sender|recipient|dsn)|empty message)/i },
    then: { category: 'syntaxerror' },
  },

  // ---------------------------------------------------------------- 5. decisive enhanced statuses
  {
    id: 'reverse-dns',
    description: 'Missing or mismatched PTR / reverse DNS of the sending IP (any status, including Gmail 5.7.25 and 4.7.23).',
    when: { text: PTR_TEXT },
    then: { category: 'requireptr' },
  },
  {
    id: 'helo-rejected',
    description: 'Our HELO/EHLO name was refused: like PTR problems, a sending host configuration issue.',
    when: { text: HELO_TEXT },
    then: { category: 'requireptr' },
  },
  {
    id: 'null-mx',
    description: 'The domain accepts no mail at all (RFC 7505 null MX, RFC 7504 521/556): a hard failure for the address.',
    when: { text: NOT_ACCEPT_TEXT },
    then: { category: 'notaccept' },
  },
  {
    id: 'recipient-preferences',
    description: 'Refused because of the recipient\'s own settings ("refused due to recipient preferences", "blocked by the recipient"): a filter, whatever the status (Facebook sends 5.1.1).',
    when: { text: /refused due to recipient(?:'s)? preferences|recipient(?:'s)? (?:e-?mail )?preferences|blocked by (?:the )?recipient|recipient has blocked/i },
    then: { category: 'filtered' },
  },
  {
    id: 'x.1.1-user-unknown',
    description: 'RFC 3463 X.1.1 bad destination mailbox address: the user does not exist (hard when permanent).',
    when: { enhancedStatus: /^[45]\.1\.1$/ },
    then: { category: 'userunknown' },
  },
  {
    id: 'x.1.10-user-unknown',
    description: 'X.1.10: RFC 7505 null MX, and Microsoft RESOLVER.ADR.RecipientNotFound: the address cannot receive mail.',
    when: { enhancedStatus: /^[45]\.1\.10$/ },
    then: { category: 'userunknown' },
  },
  {
    id: 'x.1.2-host-unknown',
    description: 'X.1.2 bad destination system address: the domain does not exist.',
    when: { enhancedStatus: /^[45]\.1\.2$/ },
    then: { category: 'hostunknown' },
  },
  {
    id: 'x.1.3-bad-syntax',
    description: 'X.1.3 bad destination mailbox address syntax: the address can never work, so a permanent one is hard.',
    when: { enhancedStatus: /^[45]\.1\.3$/ },
    then: { category: 'syntaxerror', hard: true },
  },
  {
    id: 'x.1.6-has-moved',
    description: 'X.1.6 mailbox has moved, X.7.17/X.7.18 mailbox or domain owner changed (RFC 7293).',
    when: { enhancedStatus: /^[45]\.(?:1\.6|7\.1[78])$/ },
    then: { category: 'hasmoved' },
  },
  {
    id: 'x.1.7-sender',
    description: 'X.1.7/X.1.8 bad sender address or sender system: a problem with our MAIL FROM, not the recipient.',
    when: { enhancedStatus: /^[45]\.1\.[78]$/ },
    then: { category: 'rejected' },
  },
  {
    id: 'microsoft-dbeb',
    description: 'Microsoft 550 5.4.1 "Recipient address rejected: Access denied" (directory based edge blocking): the recipient does not exist.',
    when: { enhancedStatus: '5.4.1', text: /recipient address rejected: access denied/i },
    then: { category: 'userunknown' },
  },
  {
    id: 'x.2.2-mailbox-full',
    description: 'X.2.2 mailbox full: a persistent transient failure per RFC 3463, even when sent as 552 5.2.2; never hard.',
    when: { enhancedStatus: /^[45]\.2\.2$/ },
    then: { outcome: 'transient', category: 'mailboxfull' },
  },
  {
    id: 'x.3.4-too-large',
    description: 'X.2.3 message length exceeds administrative limit, X.3.4 message too big for system, X.7.16 too big for priority.',
    when: { enhancedStatus: /^[45]\.(?:2\.3|3\.4|7\.16)$/ },
    then: { category: 'emailtoolarge' },
  },
  {
    id: 'x.3.1-system-full',
    description: 'X.3.1 mail system full.',
    when: { enhancedStatus: /^[45]\.3\.1$/ },
    then: { category: 'systemfull' },
  },
  {
    id: 'x.4.4-unroutable',
    description: 'X.4.4 unable to route: the domain has no usable MX/A record (hard when permanent).',
    when: { enhancedStatus: /^[45]\.4\.4$/ },
    then: { category: 'hostunknown' },
  },
  {
    id: 'x.4.5-congestion',
    description: 'X.4.5 mail system congestion, also Gmail 5.4.5 sending quota: a rate limit (throttled on 4xx, failed on 5xx).',
    when: { enhancedStatus: /^[45]\.4\.5$/ },
    then: { category: 'ratelimited' },
  },
  {
    id: 'x.4.7-expired',
    description: 'X.4.7 delivery time expired (a DSN of a remote queue that gave up or is still trying).',
    when: { enhancedStatus: /^[45]\.4\.7$/ },
    then: { category: 'expired' },
  },
  {
    id: 'x.5.3-too-many-recipients',
    description: 'X.5.3 too many recipients: send the rest in another transaction soon (RFC 5321 §4.5.3.1.10 treats 552 like 452 here).',
    when: { enhancedStatus: /^[45]\.5\.3$/ },
    then: { outcome: 'transient', category: 'ratelimited' },
  },
  {
    id: 'x.7.25-ptr',
    description: 'X.7.25 reverse DNS validation failed.',
    when: { enhancedStatus: /^[45]\.7\.25$/ },
    then: { category: 'requireptr' },
  },
  {
    id: 'x.7.auth',
    description:
      'Sender authentication statuses: X.7.8 credentials, X.7.12-14, X.7.20-24 DKIM/SPF, X.7.26/27/30/32/40 (Gmail), X.7.29 ARC, X.7.57/509/515 (Microsoft). Permanent on 5xx but never hard.',
    when: { enhancedStatus: /^[45]\.7\.(?:8|1[234]|2[0-46-7]|29|3[02]|40|57|509|515)$/ },
    then: { category: 'authfailure' },
  },
  {
    id: 'x.7.security',
    description: 'X.7.3-7, X.7.10-11 (security conversion, cryptography, encryption required).',
    when: { enhancedStatus: /^[45]\.7\.(?:[3-7]|1[01])$/ },
    then: { category: 'securityerror' },
  },

  // ---------------------------------------------------------------- 6. throttling wording
  {
    id: 'greylisting',
    description: 'Greylisting: retry in about 5 minutes (postgrey and most greylisters wait 300 s).',
    when: { text: GREYLIST_TEXT },
    then: { category: 'onhold', retryAfterMs: 5 * MINUTE },
  },
  {
    id: 'too-many-recipients',
    description: '"Too many recipients" without X.5.3: the transaction limit, not a throttle; send the rest soon.',
    when: { text: /too many recipients|recipient limit|maximum (?:number of )?recipients/i },
    then: { outcome: 'transient', category: 'ratelimited' },
  },
  {
    id: 'rate-limit',
    description:
      'Generic rate wording ("too many connections", "rate limited", "throttled", "slow down", "exceeded the sending rate", "server busy"): throttled on 4xx, permanent on 5xx (never retry a 5xx).',
    when: { text: RATE_TEXT },
    then: { category: 'ratelimited' },
  },

  // ---------------------------------------------------------------- 7. policy wording
  {
    id: 'auth-failure-text',
    description: 'SPF/DKIM/DMARC and alignment failures: the sending domain is not authenticated (never hard).',
    when: { text: AUTH_TEXT },
    then: { category: 'authfailure' },
  },
  {
    id: 'sender-rejected',
    description: 'Our sender address or domain was refused ("Sender address rejected", "sender verify failed"): not about the recipient.',
    when: { text: SENDER_TEXT },
    then: { category: 'rejected' },
  },
  {
    id: 'smtp-auth-demand',
    description: 'A demand for SMTP AUTH ("Please turn on SMTP Authentication", "relay ... without authentication"): a sending-side security setting, even when the reply also says relaying is denied.',
    when: { text: /turn on (?:smtp )?auth(?:entication)?|(?:relay|relaying|send)\b.{0,60}\bwithout (?:smtp )?auth(?:entication)?/i },
    then: { category: 'securityerror' },
  },
  {
    id: 'relay-denied',
    description: 'Relaying denied: the server is not a destination for this domain.',
    when: { text: RELAY_TEXT },
    then: { category: 'norelaying' },
  },
  {
    id: 'smtp-auth-text',
    description: 'Demands for SMTP AUTH ("Authentication required", "unauthenticated senders not allowed") and refused credentials.',
    when: { text: SMTP_AUTH_TEXT },
    then: { category: 'securityerror' },
  },
  {
    id: 'virus',
    description: 'Virus or malware found in the message.',
    when: { text: VIRUS_TEXT },
    then: { category: 'virusdetected' },
  },
  {
    id: 'directory-not-listed',
    description: 'Lotus Domino/Notes "User not listed in public Name & Address Book" (or the Domino Directory): an unknown user, not a block list.',
    when: { text: /not listed in (?:the )?(?:public )?(?:Name (?:&|and) Address Book|Domino Directory|address book|directory)/i },
    then: { category: 'userunknown' },
  },
  {
    id: 'blocklisted',
    description: 'The sending IP, host or account is on a block list or banned (Spamhaus, "blocked using", "banned sending IP").',
    when: { text: BLOCKLIST_TEXT },
    then: { category: 'blocked' },
  },
  {
    id: 'bad-reputation',
    description: 'Low sender or IP reputation.',
    when: { text: /reputation/i },
    then: { category: 'badreputation' },
  },
  {
    id: 'rfc5322-noncompliant',
    description: 'Gmail 5.7.1 "This message is not RFC 5322 compliant" (duplicate headers, bad Message-ID): a content error, even though the reply goes on about spam.',
    when: { text: /not (?:RFC ?(?:5322|2822|822|5321) )?compliant with RFC|not RFC ?(?:5322|2822|822|5321)[ -]compliant/i },
    then: { category: 'contenterror' },
  },
  {
    id: 'spam',
    description: 'Content judged as spam or unsolicited (after block lists, so "spamhaus" stays a block).',
    when: { text: SPAM_TEXT },
    then: { category: 'spamdetected' },
  },
  {
    id: 'content-error',
    description: 'Malformed or refused content (headers, MIME, attachments, RFC 5322 compliance).',
    when: { text: CONTENT_TEXT },
    then: { category: 'contenterror' },
  },
  {
    id: 'policy',
    description: 'Local policy refusals ("not accepted for policy reasons", "administrative prohibition").',
    when: { text: POLICY_TEXT },
    then: { category: 'policyviolation' },
  },
  {
    id: 'blocked',
    description: 'Generic "blocked"/"banned" wording.',
    when: { text: /\bblocked\b|\bbanned\b|\bblacklisted\b/i },
    then: { category: 'blocked' },
  },

  // ---------------------------------------------------------------- 7b. address wording
  {
    id: 'user-unknown-text',
    description: 'Explicit unknown-user wording ("User unknown", "No such user", "does not exist", RecipientNotFound).',
    when: { text: USER_UNKNOWN_TEXT },
    then: { category: 'userunknown' },
  },
  {
    id: 'host-unknown-text',
    description: 'Unknown domain wording ("Host or domain name not found", "Unrouteable address", NXDOMAIN).',
    when: { text: HOST_UNKNOWN_TEXT },
    then: { category: 'hostunknown' },
  },
  {
    id: 'has-moved-text',
    description: '"551 User not local; please try <...>" and other moved-address wording.',
    when: { text: MOVED_TEXT },
    then: { category: 'hasmoved' },
  },
  {
    id: 'mailbox-full-text',
    description: 'Mailbox full / over quota wording: transient, never hard (RFC 3463 X.2.2).',
    when: { text: MAILBOX_FULL_TEXT },
    then: { outcome: 'transient', category: 'mailboxfull' },
  },
  {
    id: 'suspended-text',
    description: 'Disabled, suspended or inactive mailbox.',
    when: { text: SUSPEND_TEXT },
    then: { category: 'suspend' },
  },
  {
    id: 'too-large-text',
    description: 'Message too large wording.',
    when: { text: TOO_LARGE_TEXT },
    then: { category: 'emailtoolarge' },
  },
  {
    id: 'system-full-text',
    description: 'Insufficient system storage.',
    when: { text: SYSTEM_FULL_TEXT },
    then: { category: 'systemfull' },
  },
  {
    id: 'dns-failure-text',
    description: 'DNS lookup failures ("host name lookup failure", "DNS query failed"), also when the message then expired: a network problem.',
    when: { text: /\b(?:DNS|name server|host ?name lookup|MX lookup)\b.{0,30}\b(?:fail(?:ed|ure)?|error|time ?out|timed out)\b/i },
    then: { category: 'networkerror' },
  },
  {
    id: 'expired-text',
    description: 'Delivery time expired wording (DSN diagnostics of remote queues).',
    when: { text: EXPIRED_TEXT },
    then: { category: 'expired' },
  },
  {
    id: 'network-text',
    description: 'Connection, DNS lookup and routing-loop wording.',
    when: { text: NETWORK_TEXT },
    then: { category: 'networkerror' },
  },

  // ---------------------------------------------------------------- 8. vague statuses, weak wording
  {
    id: 'x.7.9-weak-mechanism',
    description: 'X.7.9 authentication mechanism too weak, when the wording said nothing else (Yahoo also uses 5.7.9 for policy and unauthenticated-sender refusals).',
    when: { enhancedStatus: /^[45]\.7\.9$/ },
    then: { category: 'securityerror' },
  },
  {
    id: 'x.7.x-policy',
    description: 'Other X.7.x security or policy statuses (5.7.0, 5.7.1, Microsoft 5.7.6xx/7xx): refused, not hard.',
    when: { enhancedStatus: /^[45]\.7\.\d{1,3}$/ },
    then: { category: 'rejected' },
  },
  {
    id: 'smtp-503',
    description: 'SMTP 503 bad sequence of commands: the session was in the wrong state, so the message may pass on a new connection (as nodemailer treats it).',
    when: { responseCode: 503 },
    then: { outcome: 'transient', category: 'syntaxerror' },
  },
  {
    id: 'system-text',
    description: 'Server-side trouble wording ("Service unavailable", "internal error", "try again later").',
    when: { text: SYSTEM_TEXT },
    then: { category: 'systemerror' },
  },
  {
    id: 'user-unknown-weak',
    description: 'The RFC 5321 550 wording "mailbox unavailable" and "Recipient address rejected" on a 5xx without a decisive status: usually a non-existent user.',
    when: { responseCode: isClass5, enhancedStatus: /^(?:$|5\.[0125]\.\d{1,3}$)/, text: WEAK_USER_TEXT },
    then: { category: 'userunknown' },
  },
  {
    id: 'syntax-text',
    description: 'Protocol syntax errors.',
    when: { text: SYNTAX_TEXT },
    then: { category: 'syntaxerror' },
  },
  {
    id: '5.2.1-disabled',
    description: '5.2.1 mailbox disabled, when the wording did not say more ("User unknown", a rate): not hard, RFC 3463 allows it to be temporary.',
    when: { enhancedStatus: '5.2.1' },
    then: { category: 'suspend' },
  },
  {
    id: 'x.1.x-address',
    description: 'Other X.1.x addressing statuses (5.1.0, 5.1.4, ...): refused, not hard.',
    when: { enhancedStatus: /^[45]\.1\.\d{1,3}$/ },
    then: { category: 'rejected' },
  },
  {
    id: 'x.2.x-mailbox',
    description: 'Other X.2.x mailbox statuses (4.2.0, 4.2.1): temporarily unavailable mailbox.',
    when: { enhancedStatus: /^4\.2\.\d{1,3}$/ },
    then: { category: 'onhold' },
  },
  {
    id: 'x.3.2-not-accepting',
    description: '5.3.2 system not accepting network messages.',
    when: { enhancedStatus: '5.3.2' },
    then: { category: 'notaccept', hard: false },
  },
  {
    id: 'x.3.x-system',
    description: 'X.3.x mail system statuses.',
    when: { enhancedStatus: /^[45]\.3\.\d{1,3}$/ },
    then: { category: 'systemerror' },
  },
  {
    id: 'x.4.x-network',
    description: 'X.4.x network and routing statuses.',
    when: { enhancedStatus: /^[45]\.4\.\d{1,3}$/ },
    then: { category: 'networkerror' },
  },
  {
    id: 'x.5.x-protocol',
    description: 'X.5.x protocol statuses.',
    when: { enhancedStatus: /^[45]\.5\.\d{1,3}$/ },
    then: { category: 'syntaxerror' },
  },
  {
    id: 'x.6.x-content',
    description: 'X.6.x message content statuses.',
    when: { enhancedStatus: /^[45]\.6\.\d{1,3}$/ },
    then: { category: 'contenterror' },
  },

  // ---------------------------------------------------------------- 9. reply codes, then error codes
  {
    id: 'aws-message-rejected',
    description: 'SES MessageRejected: permanent for this message.',
    when: { errorCode: 'MessageRejected' },
    then: { outcome: 'permanent', category: 'rejected' },
  },
  {
    id: 'aws-bad-request',
    description: 'SES/AWS request validation errors: permanent.',
    when: { errorCode: AWS_BAD_REQUEST },
    then: { outcome: 'permanent', category: 'syntaxerror' },
  },
  {
    id: 'aws-not-found',
    description: 'SES NotFoundException (configuration set or identity missing): permanent.',
    when: { errorCode: 'NotFoundException' },
    then: { outcome: 'permanent', category: 'rejected' },
  },
  {
    id: 'http-auth',
    description: 'HTTP 401/403/407: credentials refused (permanent).',
    when: { responseCode: [401, 403, 407] },
    then: { category: 'authfailure' },
  },
  {
    id: 'http-413',
    description: 'HTTP 413 Payload Too Large.',
    when: { responseCode: 413 },
    then: { category: 'emailtoolarge' },
  },
  {
    id: 'http-400',
    description: 'HTTP 400/422: the request was invalid (permanent).',
    when: { responseCode: [400, 422] },
    then: { category: 'syntaxerror' },
  },
  {
    id: 'http-4xx',
    description: 'Other HTTP-only 4xx statuses: permanent.',
    when: { responseCode: isHttpPermanent },
    then: { category: 'rejected' },
  },
  {
    id: 'http-408',
    description: 'HTTP 408 Request Timeout: transient.',
    when: { responseCode: 408 },
    then: { category: 'networkerror' },
  },
  {
    id: 'http-5xx-other',
    description: 'HTTP 505-511 (never SMTP codes): transient server errors.',
    when: { responseCode: (c) => c >= 505 && c <= 511 },
    then: { outcome: 'transient', category: 'systemerror' },
  },
  {
    id: 'smtp-421',
    description: '421 service not available, closing the channel.',
    when: { responseCode: 421 },
    then: { category: 'systemerror' },
  },
  {
    id: 'smtp-451',
    description: '451 local error in processing.',
    when: { responseCode: 451 },
    then: { category: 'systemerror' },
  },
  {
    id: 'smtp-452',
    description: '452 insufficient system storage.',
    when: { responseCode: 452 },
    then: { category: 'systemfull' },
  },
  {
    id: 'smtp-auth-codes',
    description: '530/534/535/538 and 432/454: authentication required, too weak or refused.',
    when: { responseCode: [432, 454, 530, 534, 535, 538] },
    then: { category: 'authfailure' },
  },
  {
    id: 'smtp-4xx',
    description: 'Other 4xx (450 mailbox busy, ...): transient, reason undecided.',
    when: { responseCode: isClass4 },
    then: { category: 'onhold' },
  },
  {
    id: 'smtp-syntax-codes',
    description: '500/501/502/504/555 syntax and parameter errors.',
    when: { responseCode: [500, 501, 502, 504, 555] },
    then: { category: 'syntaxerror' },
  },
  {
    id: 'smtp-does-not-accept-mail',
    description: '521/556 (RFC 7504): the host or domain does not accept mail.',
    when: { responseCode: [521, 556] },
    then: { category: 'notaccept' },
  },
  {
    id: 'smtp-5xx',
    description: 'Any other 5xx (550, 553, 554, ...): refused for good, reason undecided, not hard.',
    when: { responseCode: isClass5 },
    then: { category: 'rejected' },
  },
  {
    id: 'smtp-3xx',
    description: 'A 3xx intermediate reply where a final one was expected: a protocol hiccup, transient.',
    when: { responseCode: (c) => c >= 300 && c < 400 },
    then: { outcome: 'transient', category: 'undefined' },
  },
  {
    id: 'local-envelope',
    description: 'nodemailer EENVELOPE/EMESSAGE/EMAXRECIPIENTS without a reply: the envelope or message is invalid (permanent).',
    when: { errorCode: ['EENVELOPE', 'EMESSAGE', 'EMAXRECIPIENTS'] },
    then: { category: 'syntaxerror' },
  },
  {
    id: 'protocol-error',
    description: 'nodemailer EPROTOCOL without a reply: the server spoke something unexpected (transient).',
    when: { errorCode: 'EPROTOCOL' },
    then: { category: 'systemerror' },
  },
  {
    id: 'enhanced-2.x.x',
    description: 'A 2.x.x enhanced status without a reply code (a DSN "delivered").',
    when: { enhancedStatus: /^2\./ },
    then: { category: 'delivered' },
  },
] satisfies ClassificationRule[]);

function deepFreeze(rules: ClassificationRule[]): readonly ClassificationRule[] {
  for (const rule of rules) {
    if (Array.isArray(rule.when.responseCode)) Object.freeze(rule.when.responseCode);
    if (Array.isArray(rule.when.errorCode)) Object.freeze(rule.when.errorCode);
    Object.freeze(rule.when);
    Object.freeze(rule.then);
    Object.freeze(rule);
  }
  return Object.freeze(rules);
}
