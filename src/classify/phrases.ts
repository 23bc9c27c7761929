/**
 * The phrase families of bounce reasons, as data: for each reason of the reference bounce
 * parser (Sisimai), the wording that means it, written from the reason's meaning (who refused
 * what, and why) rather than from particular samples.
 *
 * A phrase is tested against the lower-cased diagnostic text, and is one of:
 * - a string: a plain substring;
 * - a pair `[a, b]`: `a`, then `b` somewhere after it ("mailbox … full");
 * - a RegExp, for the few families whose words need boundaries (`\bspf\b`).
 *
 * The families only say what a text means; when a family may decide (the SMTP command, the
 * status code, the order) is the business of `./reason.ts`.
 *
 * @module
 */

/** One phrase: a substring, an ordered pair of substrings, or a pattern (lower-case text). */
export type Phrase = string | readonly [string, string] | RegExp;

/**
 * The reason families of the reference parser. Several are merged in mailpush's
 * `BounceCategory` (`mesgtoobig` and `exceedlimit` are `emailtoolarge`, `speeding` and
 * `toomanyconn` are `ratelimited`, the newer names of the reference) but they are kept apart
 * here, since the decision order tells them apart.
 */
export type ReasonFamily =
  | 'userunknown'
  | 'hostunknown'
  | 'hasmoved'
  | 'notaccept'
  | 'suspend'
  | 'mailboxfull'
  | 'filtered'
  | 'rejected'
  | 'norelaying'
  | 'blocked'
  | 'badreputation'
  | 'requireptr'
  | 'authfailure'
  | 'securityerror'
  | 'policyviolation'
  | 'spamdetected'
  | 'virusdetected'
  | 'contenterror'
  | 'notcompliantrfc'
  | 'mesgtoobig'
  | 'exceedlimit'
  | 'speeding'
  | 'toomanyconn'
  | 'expired'
  | 'networkerror'
  | 'systemerror'
  | 'systemfull'
  | 'syntaxerror'
  | 'mailererror'
  | 'onhold'
  | 'undefined'
  | 'delivered';

/** Phrase families by reason. Families with no entry match by status, command or provider only. */
export const REASON_PHRASES: Readonly<Partial<Record<ReasonFamily, readonly Phrase[]>>> = Object.freeze({
  // The recipient's local part does not exist.
  userunknown: [
    // The reference's own wording of the family (Sisimai's UserUnknown list).
    'bad recipient address',
    'destination addresses were unknown',
    'email address could not be found',
    'is not an active address at this host',
    'mailbox invalid',
    'mailbox unavailable',
    'mailbox is unavailable',
    'no mail box available for this user',
    'no mailbox found',
    'no such email address',
    'no such mail drop',
    'not a valid user',
    'not a local address',
    'recipient is not local',
    'recipient not exist',
    'recipient address rejected: access denied',
    'badrcptto',
    'not in my validrcptto list',
    'user not exist',
    'user not known',
    'utilisateur inconnu',
    'no existe dicha persona',
    'no existe ese usuario',
    'nessun utente simile',
    'invalid or unknown virtual user',
    'user missing home directory',
    'user unknown',
    'unknown user',
    'userunknown',
    'no such user',
    'no such mailbox',
    'no such recipient',
    'no such account',
    'no such address',
    'no such local user',
    'no such person',
    'no mailbox here',
    'no mailbox by that name',
    'unknown recipient',
    'recipient unknown',
    'unknown mailbox',
    'mailbox unknown',
    'unknown address',
    'address unknown',
    'addressee unknown',
    'unknown local part',
    'unknown local-part',
    'unknown or illegal alias',
    'unknown account',
    'invalid recipient',
    'invalid mailbox',
    'invalid user',
    'user invalid',
    'user not found',
    'recipient not found',
    'mailbox not found',
    'address not found',
    'account not found',
    'user does not exist',
    'user doesn\'t exist',
    'recipnotfound',
    'not a valid mailbox',
    'not a valid recipient',
    'not a known user',
    'bad destination mailbox',
    'destination mailbox address invalid',
    'mailbox does not exist',
    'mailbox not present',
    // Not listed in the directory or address book (Domino, Notes); not "not listed in DNSWL".
    ['not listed in', 'directory'],
    ['not listed in', 'address book'],
    'no account by that name',
    ['mailbox', 'does not exist'],
    ['account', 'does not exist'],
    ['address', 'does not exist'],
    ['recipient', 'does not exist'],
    ['user', 'does not exist'],
    ['mailbox', 'no longer exist'],
    ['account', 'no longer exist'],
    ['address', 'no longer exist'],
    ['doesn\'t have', 'account'],
    ['does not have', 'account'],
    // Further wording of the family across MTAs (qmail badrcptto, Exchange resolver, vpopmail,
    // Courier, Domino, French and Japanese ISPs, web-mail providers).
    '#5.1.1 bad address',
    '550 address invalid',
    'address not present in directory',
    'can\'t accept user',
    'destination server rejected recipients',
    'invalid address',
    'mailbox unavaiable',
    'rejected: account unavailable',
    // Not Postfix's bare "Error: no valid recipients" at DATA, which only repeats earlier refusals.
    'no valid recipients, bye',
    'not email addresses',
    'invalid-recipient',
    'recipient is not accepted',
    'recipient not ok',
    'resolver.adr.recipient',
    'envelope recipient has been denied',
    'the following recipients was undeliverable',
    'email name is not found',
    'there is no one at this address',
    'wrong or no longer valid',
    'badrecipientto',
    'badrcptto list',
    'this spectator does not exist',
    'user not active',
    'nonexistent user',
    'non-existent user',
    'unknown e-mail address',
    'unknown email address',
    'no such mailbox here',
    'recipient invalid',
    'no such local mailbox',

    /\bbad (?:destination )?recipient\b/,
    /<[^<>\s]{1,256}> not found/,
    /\b(?:user|recipient|rcpt|mailbox|account) <?[^\s<>]{1,256}>? (?:does not|doesn't|not) exist/,
    /\buser <?[^\s<>]{1,256}>? was not found/,
    // The reference's own forms: Postfix's bare "Recipient address rejected." (no reason given
    // at RCPT) and "5.1.0 Address rejected".
    /recipient address rejected(?:\.|$)/,
    '5.1.0 address rejected',
    /\brecipient <?[^\s<>]{1,256}>? was not found in/,
    /\bno <?[^\s<>]{1,256}>? in name directory/,
    /\buser \([^()\s]{1,256}\) unknown/,
  ],
  // The recipient's domain does not exist or cannot be routed.
  hostunknown: [
    'host unknown',
    'unknown host',
    'host not found',
    'domain not found',
    'domain unknown',
    'unknown domain',
    'no such domain',
    'no such host',
    'domain does not exist',
    'domain name not found',
    'host or domain name not found',
    'name or service not known',
    'unrouteable address',
    'unroutable address',
    'nxdomain',
    'non-existent domain',
    'nonexistent domain',
    'couldn\'t find any host named',
    'could not find any host named',
    'recipient domain not found',
    'infodomainnonexistent',
    'illegal host/domain name',
    // OpenSMTPD's and KDDI's words for a domain that does not resolve.
    'invalid domain name',
    'domain doesnt exist',
    'domain doesn\'t exist',
    'host unreachable',
    'domain is not reachable',
    'domain must exist',
    'mail domain mentioned in email address is unknown',
    'the account or domain may not exist',
    'unknown domain name',
    // Exim: every MX or address lookup of the domain failed for good.
    'all host address lookups failed permanently',
    'all relevant mx records point to non-existent hosts',
    ['553 ', ' does not exist'],
    ['domain', 'does not exist'],
    ['host', 'does not exist'],
    // A bare host or domain name (not an address) said not to exist.
    /(?<![@\w.-])[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,6}\.[a-z]{2,24}>? (?:does not|doesn't) exist/,
  ],
  // The mailbox moved without forwarding.
  // The reference's only wording (Sisimai's HasMoved list): a moved mailbox is hard, so other
  // wording ("user not local", "has moved") is left to the status (X.1.6, X.7.17/18), as there.
  hasmoved: [' has been replaced by '],
  // The destination accepts no mail at all (null MX, no mail exchanger).
  notaccept: [
    'does not accept mail',
    'doesn\'t accept mail',
    'accepts no mail',
    'null mx',
    'nullmx',
    'no mx record',
    'no mail exchanger',
    'couldn\'t find a mail exchanger',
    'could not find a mail exchanger',
    'not accepting mail',
    'does not receive mail',
    'this domain does not accept',
    // Null MX (RFC 7505) as Sendmail and Exim report it: an MX of ".", no SMTP service.
    'name server: .: host not found',
    'indicated no smtp service',
    'mail receiving disabled',
    'no route for current request',
    'smtp protocol returned a permanent error',
    'no host found for existing smtp connection',
    // OpenSMTPD: every MX refused every message.
    'destination seem to reject all mails',
  ],
  // The account exists but is disabled, suspended or inactive.
  suspend: [
    // The reference's own wording of the family (Sisimai's Suspend list).
    'is a deactivated mailbox',
    'user is terminated',
    'user or domain is disabled',
    'has been temporarily suspended',
    'temporary locked',
    'recipient suspend the service',
    'invalid/inactive user',
    'mailbox unavailable or access denied',
    'boite du destinataire archivee',
    'has been disabled',
    'has been suspended',
    'is currently suspended',
    'currently suspended',
    'has been deactivated',
    'is deactivated',
    'account disabled',
    'account is disabled',
    'account suspended',
    'account is suspended',
    'account inactive',
    'account is inactive',
    'account is not active',
    'account is locked',
    'account has expired',
    'account expired',
    'mailbox disabled',
    'mailbox is disabled',
    'mailbox suspended',
    'mailbox is inactive',
    'mailbox inactive',
    'mailbox is frozen',
    'user suspended',
    'recipient suspended',
    'temporarily inactive',
    'inactive account',
    'inactive mailbox',
    'disabled account',
    'disabled mailbox',
    'suspended account',
    'archived recipient',
    'has been disabled or discontinued',
    'no longer accepts mail',
    ['account', 'has been disabled'],
    ['account', 'is disabled'],
    ['account', 'is inactive'],
    ['account', 'inactive'],
    ['mailbox', 'inactive'],
    ['mailbox', 'unavailable or disabled'],
  ],
  // Over quota.
  mailboxfull: [
    // The reference's own wording of the family (Sisimai's MailboxFull list).
    'users mailbox is currently full',
    'exceeding its mailbox quota',
    'exceeding their quota',
    'full mailbox',
    'mailbox exceeded the local limit',
    'mailbox quota usage exceeded',
    'not enough disk space',
    'not sufficient disk space',
    'over the allowed quota',
    'the user\'s space has been used up',
    'user has too many messages on the server',
    'does not have enough space',
    'diskspace quota',
    'no space left on device',
    'boite du destinataire pleine',
    'mail file size exceeds the maximum size allowed for mail delivery',
    'mailbox full',
    'mailbox is full',
    'mail box full',
    'mailbox size limit exceeded',
    'mailfolder is full',
    'mail folder is full',
    'inbox is full',
    'over quota',
    'overquota',
    'over the quota',
    'quota exceeded',
    'quota exceed',
    'exceeded quota',
    'exceeds quota',
    'quota full',
    'quota violation',
    'disk quota',
    'storage quota',
    'exceeded storage allocation',
    'exceeded its storage',
    'not enough storage space in',
    'insufficient mailbox space',
    'mailbox has exceeded',
    'has exceeded the maximum mailbox size',
    'account is full',
    'account is over',
    ['mailbox', 'is full'],
    ['mailbox', 'over quota'],
    ['user', 'over quota'],
    ['exceeded', 'quota'],
    // The family's meaning in other words: the mailbox (not the message) is out of space.
    /\b(?:mailbox|inbox|mail ?box|mail ?folder)\b[^.;]{0,40}\b(?:out of (?:storage|space|disk)|over (?:its |the )?(?:storage|capacity|quota|size limit)|exceeds? (?:the |its )?(?:allowed |maximum |max )?(?:size|storage|capacity))/,
    'out of storage space',
    'too much mail data',
    'exceeded the local limit',
    'exceed maximum allowed storage',
    'exceeding receiving limits',
    'disc quota',
    'mailbox has no space',
    'over its storage limit',
    'quota reached',
  ],
  // The recipient (or its filter) refuses mail from us: a preference, not an address problem.
  filtered: [
    'user refuses to receive',
    'refuses to receive',
    'refuse to receive',
    'blocked by the recipient',
    'blocked by recipient',
    /rejected by (?:the )?recipient(?! domain| server| system| host| mta)/,
    'recipient preferences',
    'recipient\'s preferences',
    'recipient has blocked',
    'recipient is only accepting mail from',
    'only accepting mail from specific',
    'not authorized to send to this',
    'you have been blocked by',
    'user reject',
    'message filtered',
    'filtered by the recipient',
    'restricted sms e-mail',
    'this account is protected by',
    // AOL: a mailbox unused for long stops accepting mail (the reference reads it as a filter).
    'due to extended inactivity',
    'is not accepting any mail',
    'message rejected due to user rules',
    'not found recipient account',
    'bounced address',
    'resolver.rst.notauthorized',
    'recipient id refuse',
    'has chosen not to receive',
    'user not receiving mail',
  ],
  // Our envelope sender was refused.
  rejected: [
    // The reference's own wording of the family (Sisimai's Rejected list).
    'your access to this mail system has been rejected',
    'denied by secumail valid-address-filter',
    'is on senderfilterconfig list',
    'rule imposed mailbox access for',
    'email address is not verified',
    'envelope sender is not valid',
    'from address is not valid',
    'is not a registered gateway user',
    'not a verified sender',
    'sender\'s domain is invalid',
    'sender address rejected',
    'sender rejected',
    'sender was rejected',
    'sender email address rejected',
    'sender domain rejected',
    'sender unknown',
    'unknown sender',
    'invalid sender',
    'sender invalid',
    // "bad sender ip address" is the client (blocked), not the sender address.
    /bad sender(?! ip)/,
    'bogus mail from',
    'sender verify failed',
    'sender verification failed',
    'sender verification is required',
    'unverified sender',
    'unroutable sender',
    'unrouteable sender',
    'domain of sender address',
    'sender domain does not exist',
    'sender domain is empty',
    'sender is not allowed',
    'sender not allowed',
    'sender not permitted',
    'sender not pre-approved',
    'sender is spammer',
    'sender address has been blacklisted',
    'your email address has been blacklisted',
    'null sender is not allowed',
    'empty envelope senders not allowed',
    'empty mail from',
    'mail from not owned by user',
    'badmailfrom',
    'batv',
    'envelope blocked',
    'returned mail not accepted here',
    'this server does not accept mail from',
    'fully qualified email address required',
    'from address rejected',
    'mail from address rejected',
    'not allowed to post to this',
    'you are not allowed to post',
    // "Address rejected" is the sender's unless the recipient's or the client IP's (see reason.ts).
    'address rejected',
    'access denied (in reply to mail from command)',
    'backscatter protection detected an invalid',
    'because the sender is black listed',
    'without a valid sender domain',
    'denied [bouncedeny]',
    'emetteur invalide',
    /emetteur <[^>]{0,256}> invalide/,
    'no third-party dsns',
    'from: domain is invalid',
    'mailfrom domain is listed',
    'recursive cname records for',
    'sending this from a different address or alias',
    'empty email address',
    'unsigned dsn for',
    'an address that has been blacklisted',
    'your access to submit messages to this e-mail system has been rejected',
    / is a dead domain/,
    'sender address is invalid',
    'sender blacklisted',
    'does not exist e2110',
    'invalid domain, see <url:',
    'rfc 1035 violation',
    'spam reporting address',
    // "Sender <addr> rejected" (not "sender IP address rejected", see reason.ts).
    /\bsender <?[^\s<>]{1,256}@[^\s<>]{1,256}>? (?:is )?rejected/,
    'sender domain not found',
    'sender domain unknown',
  ],
  // The server is not a destination for the recipient's domain and will not relay.
  norelaying: [
    /\b(?:not|never|cannot|can't|unable to|refuse[sd]? to|won't|do not|don't)\b[\w ]{0,30}\brelay/,
    /\brelay(?:ing)? (?:access )?(?:denied|refused|rejected|not (?:allowed|permitted|authori[sz]ed))/,
    'relay access denied',
    'relaying denied',
    'relay denied',
    'relay not permitted',
    'relaying not permitted',
    'relay not allowed',
    'relaying not allowed',
    'relaying disallowed',
    'relay prohibited',
    'relaying prohibited',
    'unable to relay',
    'not allowed to relay',
    'not permitted to relay',
    'we do not relay',
    'do not relay',
    'no relaying',
    'relay access',
    'relaying mail to',
    'list of allowed rcpthost',
    'insecure mail relay',
    'not a gateway',
    'mail for this domain is not accepted here',
    'as a relay',
    'not local host',
    'specified domain is not allowed',
    'we don\'t handle mail for',
    'non-local e-mail address',
    'not an open relay',
  ],
  // The connecting client (IP, host name, HELO) is refused: block lists, dynamic IPs.
  blocked: [
    // The reference's own wording of the family (Sisimai's Blocked list).
    'bad sender ip address',
    'currently sending spam see',
    'dynamic/zombied/spam ips blocked',
    'host network not allowed',
    'blocked using',
    'blacklisted',
    'blocklisted',
    'blacklist',
    'blocklist',
    'black list',
    'block list',
    'denylist',
    'dnsbl',
    /\b(?:rbl|rhsbl|sbl|xbl|pbl|cbl)\b/,
    'spamhaus',
    'spamcop',
    'sorbs',
    'uceprotect',
    'abuseat',
    // Listed on a named list or zone ("listed at zen.example.net", "listed in the RBL"), not
    // "not listed in the address book" (an unknown user).
    /(?<!not )\blisted (?:at|on|in|by) (?:the |an? |our )?(?:[a-z0-9-]{1,63}\.)+[a-z]{2,24}\b/,
    /(?<!not )\blisted (?:at|on|in|by) (?:the |an? |our |several |one or more |multiple )?(?:\w{1,20} )?(?:rbls?|dnsbls?|blacklists?|blocklists?|black lists?|block lists?|spam ?lists?|denylists?|reputation lists?)\b/,
    // Not any "Client host rejected: ..." (Postfix's "Access denied" is decided by its status in
    // the reference: 4.7.1 blocked, 5.7.1 securityerror); only the reference's own reasons.
    'client host rejected: may not be mail exchanger',
    'client host rejected: was not authenticated',
    'client host rejected: abus detecte',
    'helo command rejected',
    // The client's HELO/EHLO name refused in any words ("HELO/EHLO argument is invalid").
    /\b(?:helo|ehlo)\b[^.;]{0,40}\b(?:invalid|rejected|not valid|bogus|forged|not allowed|refused)\b/,
    'invalid helo',
    'bad helo',
    'dynamic ip',
    'dynamic address',
    'dynamically assigned',
    'ip address blocked',
    'ip blocked',
    /\byour (?:ip|ip address|server ip|sending ip)\b.{0,60}\b(?:block|listed|ban|reject|refus|den(?:y|ied)|not allowed|not permitted|blacklist|blocklist)/,
    'sender ip address rejected',
    'host blocked',
    'banned sending ip',
    'access denied, banned',
    'connection refused from',
    'connection rejected from',
    'not allowed to connect',
    'refused to talk to me',
    // Mail from the client's IP refused, not "mail from <ip> rejected due to local policy" (policyviolation).
    /(?:messages?|mails?|e-?mails?|connections?) from (?:your )?(?:ip )?(?:address )?\[?\d{1,3}(?:\.\d{1,3}){3}\]?:? (?!temporarily deferred)(?:(?!polic)[^.;]){0,30}\b(?:refused|rejected|blocked|denied|banned|not accepted|weren't sent|were not sent)(?![^.;]{0,40}polic)/,
    'part of their network is on our block list',
    'not currently accepting mail from your ip',
    'is not allowed to send mail from',
    'you are not allowed to connect',
    'no access from mail server',
    'server access forbidden',
    'access from ip address',
    'invalid ip for sending mail',
    'bad ip profile',
    'open proxy',
    'looks suspiciously like spammer',
    'you are sending spam',
    'too many spams from your ip',
    'too many unwanted messages have been sent from',
    'was blocked by',
    'blocked - see http',
    'refused - see http',
    'after initial connection',
    'not accepting connections',
    'please use the smtp server of your isp',
    // The client (its IP, host, server, network or domain), not "your message has been blocked" (content or policy).
    /your (?:ip|server|host|mail ?server|network|domain|connection)\b.{0,40} has been blocked/,
    // "IP ... is blocked", the word (not "recipient ... is blocked").
    /\bip\b.{0,60} (?:is|has been) blocked/,
    ' said: 550 blocked',
    'confirm this mail server',
    'your server requires confirmation',
    'connection was dropped by remote host',
    'go away',
    'no valid recipients from ',
    'no matches to nameserver query',
    'has not passed validation',
    'to submit messages to this e-mail system has been rejected',
    'service not available, closing transmission channel',
    'listed as abusive',
    ['mail server at', 'is blocked'],
    'poor reputation',
    'is in a black list',
    'we do not accept mail from dynamic',
    // Gmail: a client IP that must relay through its provider, or a listed IP allowance.
    'send email directly to our servers',
    'send mail directly to our servers',
    'ip not in whitelist',
    'denial of service (dos) for the smtp relay',
    // qmail-remote: the server refused our HELO name.
    'my name was rejected',
    'dynamic range',
    'barracudacentral.org',
    // Yahoo's "Messages from <ip> temporarily deferred due to user complaints" (TS01).
    'temporarily deferred due to user complaints',
    'dynamic pool',
    /\b(?:ip|host|address|server|network)\b.{0,30}\bbanned\b/,
  ],
  // The sending IP's or domain's reputation as the reason, not a block list that has
  // "reputation" in its name ("blocked using Barracuda Reputation" is a DNSBL listing: blocked).
  badreputation: [
    // The reference's own wording (Sisimai's BadReputation list).
    'a poor email reputation score',
    'has been temporarily rate limited due to ip reputation',
    'ip/domain reputation problems',
    'likely suspicious due to the very low reputation',
    "the sending mta's poor reputation",
    // Its common variants: "poor IP reputation", "very low sender reputation", "bad reputation".
    /\b(?:poor|low|bad|negative) (?:[\w/-]{1,20} ){0,2}reputation/,
    'reputation problem',
    'reputation is too low',
    'due to ip reputation',
    'due to domain reputation',
    // Yahoo's "unexpected volume or user complaints"; "deferred due to user complaints" alone names the client (blocked).
    'volume or user complaints',
    'sender score',
    'sending history',
  ],
  // The client has no or a bad reverse DNS (PTR).
  requireptr: [
    // The reference's own sentences only (Sisimai's RequirePTR list). Other PTR or reverse-DNS
    // wording ("cannot find your reverse hostname", "generic rDNS") is not this family there: it
    // is decided by the status (4.7.1 blocked, 5.7.1 securityerror) or by block-list wording,
    // and a wider list here took those (held-out: blocked -> requireptr). The wider wording
    // still marks a report line as explaining a failure (EVIDENCE_ONLY below).
    'access denied. ip name lookup failed',
    'all mail servers must have a ptr record with a valid reverse dns entry',
    'bad dns ptr resource record',
    'cannot find your hostname',
    'fix reverse dns for ',
    'ips with missing ptr records',
    'no ptr record found.',
    'please get a custom reverse dns name from your isp for your host',
    'ptr record setup',
    'reverse dns failed',
    'reverse dns required',
    'sender ip reverse lookup rejected',
    'does not have a ptr record',
    'the corresponding forward dns entry does not point to the sending ip',
    'will not accept messages from servers/devices with no reverse dns',
    'unresolvable relay host name',
    'hosts with dynamic ip or generic dns ptr-records',
    // "domain <name> mismatches client ip" (a pair starting with "domain " would rescan every report line).
    ' mismatches client ip',
    ['dns lookup failure: ', ' try again later'],
    ['reverse dns lookup for host ', ' failed permanently'],
    ['server access ', ' forbidden by invalid rdns record of your mail server'],
    ['service permits ', ' unverifyable sending ips'],
  ],
  // SPF, DKIM, DMARC or ARC of the sender domain failed.
  authfailure: [
    /\bspf\b.{0,60}(?:fail|not pass|reject|invalid|not authori[sz]ed|violation|check|record)/,
    /\bdkim\b(?!-signature).{0,60}(?:fail|not pass|reject|invalid|missing|required)/,
    /\bdmarc\b/,
    /\barc\b.{0,30}(?:fail|validation)/,
    /(?:fail|failed|failure|invalid|no|missing) (?:\w+ ){0,3}(?:spf|dkim)\b/,
    'sender policy framework',
    'sender is unauthenticated',
    'domainkeys',
    // The sender domain's SPF; not Gmail's "the IP you're using ... is not authorized to send
    // email directly to our servers" (a client IP that must use its provider's relay: blocked).
    /is not authorized to send (?!e?-?mail directly)/,
    'not permitted to send mail on behalf',
    'unauthenticated email',
    'unauthenticated mail',
    'authentication results',
    'authentication checks',
    'authentication information',
    'did not pass authentication',
    'isn\'t aligned',
    'not aligned',
    '//spf.pobox.com',
    'inspect your spf settings',
    // Orange: "<domain> is not allowed to send mail. OFR_401".
    [' is not allowed to send mail.', '_401'],
  ],
  // SMTP AUTH, TLS and other transport security requirements.
  securityerror: [
    'authentication required',
    'authentication is required',
    'authentication failed',
    'authentication failure',
    'authentication credentials invalid',
    'smtp auth',
    'must authenticate',
    'please authenticate',
    'not authenticated',
    'starttls',
    'tls required',
    'tls is required',
    'requires tls',
    'must use tls',
    'encryption required',
    'encryption is required',
    'must issue a starttls',
    'secure connection',
    'certificate',
    'application-specific password',
    'username and password not accepted',
    'invalid credentials',
    'weak authentication',
    'mechanism is too weak',
    'turn on smtp authentication',
    'unauthenticated sender',
    'unauthenticated relay',
    'unauthenticated user',
    'unauthenticated connection',
    'account not subscribed to ses',
    'authentication turned on in your email client',
    'insecure mail relay',
    'you don\'t authenticate',
    'verification failure',
    'authentification invalide',
    'authentification requise',
    'not authorized to perform ses:',
    'could not retrieve credentials',
    'executable files are not allowed in compressed files',
  ],
  // Local site policy (attachments, closed lists, "for policy reasons").
  policyviolation: [
    // The reference's own wording of the family (Sisimai's PolicyViolation list).
    'you\'re using a mass mailer',
    'because the recipient is not accepting mail with',
    'email rejected due to security policies',
    'header are not accepted',
    'message bounced due to organizational settings',
    'messages with multiple addresses',
    'rejected by organization policy',
    'its content presents a potential',
    'we do not accept messages containing images or other attachments',
    'posts without solving a captcha',
    'violates our policy',
    'violation of our',
    'policy reasons',
    'for policy reasons',
    'denied by policy',
    'rejected by policy',
    'local policy',
    'content policy',
    'administrative prohibition',
    'administratively denied',
    'prohibited attachment',
    'illegal attachment',
    'attachment not allowed',
    'attachments are not allowed',
    'file type not allowed',
    'file extension',
    'members-only',
    'members only',
    'non-member',
    'closed mailing list',
    'not subscribed to this group',
    'protocol violation',
    'header error',
    'message given low priority',
    'has a policy that prohibited the mail',
  ],
  // The content was judged spam.
  spamdetected: [
    // The reference's own wording of the family (Sisimai's SpamDetected list).
    'bulk email',
    'rejecting banned content',
    'rejecting mail content',
    'content with spam-like characteristics',
    'failed several antispam checks',
    /\b(?:as|is|be|being|considered|classified|identified|detected|suspected|looks like|appears to be|likely|probable|possible|contains|containing)(?: as)? (?:an? )?(?:spam|junk)\b/,
    /\bspam\b(?!haus|cop)[\w ]{0,12}(?:detected|content|message|mail|filter|rejected|suspected|blocked|policy|signature|score|threshold|like)/,
    /\b(?:due to|because of|for|suspected|possible|probable|likely|reason:?) spam\b/,
    // The bare word, but not inside identifiers (spamhaus, x-spam-status, spamscore=0, classifier=spam).
    /(?<![\w=-])spam(?![\w=-])/,
    'spammy',
    'unsolicited',
    'junk mail',
    'junk e-mail',
    'bulk mail',
    'bulk e-mail',
    /\bu[bc]e\b/,
    'spam score',
    'spamassassin',
    'content filter',
    'content rejected',
    'suspicious content',
    'scored too high',
    'message scored',
    'classified as junk',
    'blacklisted url',
    'mail content denied',
    'because of unacceptable content',
    'spamprofiler',
    'bulk.advertising',
    'sender domain listed at ',
    'spamming not allowed',
    'recurrent pattern detection',
    'uribl',
    'spam-like',
    'temporarily blocked by our filter',
    'probability of being spam',
    // Block-list help pages about spam content, amavis's reject id, a content DNSBL.
    'help_spam_16.htm',
    '5.7.0 reject, id=',
    'work.drbl.imedia.ru',
    'our filters rate at and above',
    ['mail rejete. mail rejected. ', '506'],
    // MailMarshal's "Rule imposed as <rule> is blacklisted on ..." (the reference's SpamDetected pair).
    ['rule imposed as ', ' is blacklisted on'],
  ],
  // Malware found in the message.
  virusdetected: [
    // The words, but not inside header names or scanner fields (X-Virus-Scanned, X-Proofpoint-Virus-Version).
    /(?<![\w=-])(?:virus|viruses|malware|trojan|ransomware|worm)(?![\w=-])/,
    'infected',
    'malicious attachment',
    'malicious content',
    'potentially executable attachment',
    'prohibited virus',
    'malicious_url',
  ],
  // Header or MIME format problems.
  contenterror: [
    'invalid header',
    // A repeated header is a header problem (the reference: contenterror), not RFC 5322 wording.
    'duplicate header',
    'malformed header',
    'header syntax',
    'illegal header',
    'bad header',
    'headers are invalid',
    'header too long',
    'too many headers',
    'malformed mime',
    'invalid mime',
    'mime syntax',
    '8bit',
    '8-bit',
    'bare lf',
    'bare linefeed',
    'bare newline',
    'improper use of 8-bit',
    'message content rejected',
    'content not accepted',
    'unacceptable content',
    'illegal characters',
    'header size exceeds maximum permitted',
    'exceeds policy limit',
    'mime complexity exceeds',
    'improperly-formatted binary content',
    'unnecessary base64 encoding',
    // Loops detected by counting Received headers (a header limit; see reason.ts).
    'too many received: headers',
    'too many "received" headers',
    'too many received headers',
  ],
  // Not RFC 5322 compliant.
  notcompliantrfc: [
    'rfcmessagenoncompliant',
    /not (?:rfc ?(?:5322|2822|822) )?compliant/,
    /\brfc ?(?:5322|2822|822)\b.{0,20}(?:complian|violation|conform|standard)/,
    'multiple addresses in from',
    'missing message-id',
    'message-id header',
    'missing date header',
    'missing from header',
  ],
  // The message is larger than the receiver accepts.
  mesgtoobig: [
    'message too big',
    'message too large',
    'message is too big',
    'message is too large',
    'mesg too big',
    'message size exceeds',
    'message exceeds',
    'exceeds the maximum message size',
    'exceeds maximum message size',
    'maximum message size',
    'max message size',
    'message length exceeds',
    'size limit',
    'too big for',
    'too large for',
    'larger than the',
    'payload too large',
    'entity too large',
    'message file too big',
    'maximum inbound message size',
    'line limit exceeded',
    'taille limite du message',
    'exceeded the maximum size',
    'exceeds the size limit',
    ['size', 'too large'],
    ['size', 'too big'],
  ],
  // Over an administrative limit other than the size.
  exceedlimit: ['message header size exceeds limit', 'header size exceeds limit', 'exceeded the allowed number', 'limit exceeded for this message'],
  // Sending too fast.
  speeding: [
    'rate limit',
    'rate-limit',
    'ratelimit',
    'rate limited',
    'too fast',
    'too quickly',
    'too frequent',
    'throttl',
    'slow down',
    'sending rate',
    'message rate',
    'receiving mail at a rate',
    'unexpected volume',
    'excessive volume',
    'too many messages',
    'too many mails',
    'too many emails',
    'frequency limit',
    'exceeded the rate',
    'try again slower',
  ],
  // Too many connections, sessions or recipients.
  toomanyconn: [
    'too many connections',
    'too many concurrent',
    'too many simultaneous',
    'too many sessions',
    'too many smtp sessions',
    'too many recipients',
    'connection limit',
    'maximum number of connections',
    'maximum number of recipients',
    'max connections',
    'too many hosts',
    'connection rate limit',
    'max emails per hour',
    'daily message quota exceeded',
    'maximum sending rate exceeded',
    'too many errors from your ip',
    'trop de connexions',
    'numerous attempts to deliver this message',
  ],
  // The queue lifetime ran out.
  expired: [
    // The reference's own wording of the family (Sisimai's Expired list).
    'delivery attempts will continue to be',
    'has been delayed',
    'retry time not reached for any host after a long failure period',
    'unable to deliver message after multiple retries',
    // "Unable to deliver this message after 2 days", "undeliverable after 48 hours".
    /deliver[\w ]{0,30} after \d{1,4} (?:days?|hours?)\b/,
    'not reachable within the allowed queue period',
    'it has not been collected after',
    'could not find a gateway for',
    'failed to deliver to domain ',
    'delivery time expired',
    'giving up on',
    'gave up',
    'giving up',
    'retry timeout exceeded',
    'retry time exceeded',
    'message expired',
    'envelope expired',
    'delivery expired',
    // The message's time ran out; not an account or a certificate that "has expired".
    /\b(?:message|mail|delivery|queue|time|lifetime|period|ttl|request)\b[\w ]{0,20} has expired/,
    'queue too long',
    'too long in the queue',
    'in the queue too long',
    'been in the queue',
    'could not be delivered for',
    'could not deliver for',
    'not been delivered for',
    'unable to deliver for',
    'have been failing for a long time',
    'has been failing for a long time',
    'delivery attempts failed',
    'max queue',
    'maximum time in queue',
    'maximum time to deliver',
    'time limit exceeded',
    'message timed out',
    'timeout exceeded',
    'connection timed out',
    'server did not respond',
    'has been frozen',
    'queue lifetime',
    'lifetime exceeded',
    'delivery period expired',
    'retry period expired',
    'could not be delivered within',
    'was not delivered within',
    'was frozen on arrival',
    /\b(?:failed|after|made) \d{1,4} (?:delivery )?attempts\b/,
  ],
  // DNS failures, unreachable hosts, routing loops.
  networkerror: [
    'host name lookup failure',
    'name service error',
    'name server reply',
    'name server failure',
    'dns error',
    'dns failure',
    /\bdns (?:lookup|query|resolution) (?:failed|failure|error|timed out|timeout)/,
    'dns records for the destination',
    'temporary dns',
    'no route to host',
    'network is unreachable',
    'host is unreachable',
    'unable to resolve route',
    'network error',
    'temporary failure in name resolution',
    'servfail',
    'wasn\'t able to establish an smtp connection',
    'although i\'m listed as a best-preference mx',
    'unrouteable mail domain',
    'mail forwarding loop',
    'routing loop',
    'message looping',
    'hop count exceeded',
    'maximum hop count',
    // OpenSMTPD's routing and lookup failures.
    'address family mismatch on destination',
    'all routes to destination blocked',
    'bad dns lookup error code',
    'could not retrieve source address',
    'loop detected',
    'network error on destination',
    'no mx found for',
    'no valid route to',
    'temporary failure in mx lookup',
    'too many hops',
    'forwarding loop',
    'could not connect and send',
    'host not found, try again',
  ],
  // The remote mail system's own error or misconfiguration.
  systemerror: [
    // The reference's own wording of the family (Sisimai's SystemError list).
    'aliasing/forwarding loop broken',
    'system config error',
    'remote server is misconfigured',
    'could not load drd for domain',
    'local configuration error',
    'configuration error',
    'local error in processing',
    'temporary local problem',
    'loops back to myself',
    'would create a mail loop',
    'loop was found',
    'internal error',
    'internal server error',
    'system error',
    'server configuration',
    'service currently unavailable',
    'interrupted system call',
    'encountered an error while being processed',
    'timeout waiting for input',
    "can't create user output file",
    'queue file write error',
    'there is no mdb',
    'transaction failed ',
    'delivery to file forbidden',
    'delivery to pipe forbidden',
    'local delivery failed',
    'lmtp error after ',
    'unable to contact ldap server',
    'temporary failure in ldap lookup',
    'bad interpreter',
    // Courier: the destination's DNS is broken.
    'dns violates rfc 1035',
  ],
  // The destination's disk or spool is full.
  systemfull: ['system full', 'mail system full', 'insufficient system storage', 'disk full', 'disk is full', 'no space left on device', 'out of disk space', 'spool full', 'file system full'],
  // A local delivery program failed.
  // The recipient address itself is malformed (Exim's and Sendmail's address parsers).
  syntaxerror: [
    'angle-brackets nested too deep',
    'expected word or "<"',
    'domain missing in source-routed address',
    'malformed address:',
    'unbalanced \'<\'',
    'unbalanced \'>\'',
  ],
  mailererror: ['command failed: ', ' || exit ', 'command died with status', 'pipe to |', 'procmail', 'bin/maidrop', 'command output:', 'mailer error', 'exit status', 'exit code', 'x-unix;'],
});

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function source(p: Phrase): string {
  if (typeof p === 'string') return escape(p);
  if (p instanceof RegExp) return `(?:${p.source})`;
  // A pair as a pattern only for the combined "any wording" test; lists test pairs by indexOf.
  return `${escape(p[0])}[^]*?${escape(p[1])}`;
}

interface TrieNode {
  end: boolean;
  readonly next: Map<string, TrieNode>;
}

/**
 * The plain strings of a list as one pattern of their common prefixes (`mailbox (?:full|is full)`
 * rather than `mailbox full|mailbox is full`): for a "does any of them occur" test this scans the
 * text once with a single branch per character, where a flat alternation of hundreds of strings
 * tries each of them at every position. A string that another one starts with makes the longer
 * one redundant for that test, so it ends its branch.
 */
function prefixPattern(strings: readonly string[]): string {
  const root: TrieNode = { end: false, next: new Map() };
  for (const str of strings) {
    let node = root;
    for (const ch of str) {
      if (node.end) break;
      let child = node.next.get(ch);
      if (child === undefined) {
        child = { end: false, next: new Map() };
        node.next.set(ch, child);
      }
      node = child;
    }
    node.end = true;
    node.next.clear();
  }
  const walk = (node: TrieNode): string => {
    if (node.end) return '';
    const alts = [...node.next].map(([ch, child]) => escape(ch) + walk(child));
    return alts.length === 1 ? alts[0]! : `(?:${alts.join('|')})`;
  };
  return root.next.size === 0 ? '' : walk(root);
}

/** The "any of these" pattern of a list's strings and patterns (pairs as `a[^]*?b` when asked). */
function anyPattern(phrases: readonly Phrase[], withPairs: boolean): RegExp | undefined {
  const strings = phrases.filter((p): p is string => typeof p === 'string');
  const others = phrases.filter((p) => typeof p !== 'string' && (withPairs || !isPair(p))).map(source);
  const parts = strings.length > 0 ? [prefixPattern(strings), ...others] : others;
  return parts.length > 0 ? new RegExp(parts.join('|')) : undefined;
}

/** Pairs are tested by indexOf: in a pattern, `a[^]*b` would rescan the text after every `a`. */
const isPair = (p: Phrase): p is readonly [string, string] => typeof p !== 'string' && !(p instanceof RegExp);

/**
 * One RegExp per phrase list (its strings and patterns), as a fast first test: a single
 * alternation scans the text once (about three times faster than a substring search per
 * phrase); the exact phrase is only looked up when it matches. Pairs are kept apart.
 */
interface Compiled {
  readonly re: RegExp | undefined;
  readonly pairs: readonly (readonly [string, string])[];
}
const COMPILED = new WeakMap<readonly Phrase[], Compiled>();

function compiled(phrases: readonly Phrase[]): Compiled {
  let c = COMPILED.get(phrases);
  if (c === undefined) {
    c = { re: anyPattern(phrases, false), pairs: phrases.filter(isPair) };
    COMPILED.set(phrases, c);
  }
  return c;
}

function matchPair(text: string, p: readonly [string, string]): boolean {
  const i = text.indexOf(p[0]);
  return i >= 0 && text.indexOf(p[1], i + p[0].length) >= 0;
}

/**
 * The phrase of `phrases` that `text` contains (the leftmost; for a pattern, the text it
 * matched; for a pair, `a … b`), or `undefined`. `text` must be lower case.
 *
 * @example
 * ```ts
 * matchPhrases('550 5.2.2 mailbox is full', REASON_PHRASES.mailboxfull); // 'mailbox is full'
 * matchPhrases('250 ok', REASON_PHRASES.mailboxfull); // undefined
 * ```
 */
export function matchPhrases(text: string, phrases: readonly Phrase[] | undefined): string | undefined {
  if (phrases === undefined || phrases.length === 0 || text === '') return undefined;
  const c = compiled(phrases);
  // The leftmost phrase in the text: a string of the list (the prefix pattern stops at the
  // shortest one that matches) or what a pattern matched; else the first pair that holds.
  const m = c.re?.exec(text);
  if (m) return m[0];
  for (const p of c.pairs) if (matchPair(text, p)) return `${p[0]} … ${p[1]}`;
  return undefined;
}

/**
 * Wording that explains a failure without deciding a family (the reference decides such texts
 * by their status): it only marks a report line as an error line for {@link hasReasonWording}.
 */
const EVIDENCE_ONLY: readonly Phrase[] = [
  // PTR and reverse DNS named as missing, required or failed (see REASON_PHRASES.requireptr).
  /\b(?:no|missing|invalid|bad|generic|without|valid|lacks?|requires?|required|needs?|fix|custom|proper) (?:\w{1,20} ){0,2}(?:ptr|reverse dns)\b/,
  /\b(?:ptr|reverse dns)\b[\w .():[\]-]{0,40}?\b(?:record|required|missing|lookup|check|fail|failed|failure|mismatch|not found|setup|entry|name|generic|does not|doesn't|not)\b/,
  'reverse lookup',
  'reverse hostname',
  'reverse host name',
  'reverse name',
  /\bf?c?rdns\b/,
  'cannot resolve your address',
  'client host name',
  'hostname not resolved',
  'unresolvable hostname',
  ['does not resolve', 'address'],
  ['not resolve', 'hostname'],
  // Client refusals in words the reference does not read as blocked (see REASON_PHRASES.blocked).
  'client host',
  'helo name',
  'dial-up',
  'dialup',
  'residential',
  'traffic not accepted',
  'service refused',
  'service refuse',
  /(?:messages?|mails?|e-?mails?|connections?) from (?:your )?(?:ip )?(?:address )?\[?\d{1,3}(?:\.\d{1,3}){3}\]? (?!temporarily deferred)/,
  ['ip', 'is blocked'],
  ['ip', 'has been blocked'],
  // A moved mailbox in words the reference does not read as hasmoved.
  'has moved',
  'user not local',
  'address has changed',
  'moved permanently',
  'no longer on server',
];

/** Every phrase of every family in one pattern (lower-case text): "this text says why". */
const ANY_PHRASE = anyPattern([...Object.values(REASON_PHRASES).flat(), ...EVIDENCE_ONLY.filter((p) => typeof p === 'string')], true)!;
/**
 * The patterns and pairs of EVIDENCE_ONLY as their own pattern: joined to ANY_PHRASE they made
 * the one pattern ten times slower (V8 compiled the larger alternation badly).
 */
const EVIDENCE_PATTERN = anyPattern(EVIDENCE_ONLY.filter((p) => typeof p !== 'string'), true)!;

/**
 * Whether a text contains wording of any reason family (any case): used to tell the lines of
 * a report that explain a failure from the rest.
 *
 * @example
 * ```ts
 * hasReasonWording('Mailbox is full'); // true
 * hasReasonWording('Hello, this is the mail system at host mx.example.org.'); // false
 * ```
 */
export function hasReasonWording(text: string): boolean {
  // Lower-casing first is cheaper than a case-insensitive scan of this many alternatives.
  if (text === '') return false;
  const t = (text.length > 8192 ? text.slice(0, 8192) : text).toLowerCase();
  return ANY_PHRASE.test(t) || EVIDENCE_PATTERN.test(t);
}
