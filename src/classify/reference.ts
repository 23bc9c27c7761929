/**
 * The reference parser's own phrase lists (Sisimai v5's `lib/Sisimai/Reason/*.pm` `$index` and
 * `$pairs`), for the families where mailpush's wider wording (`./phrases.ts`) can take a text
 * that the reference gives to another family.
 *
 * The labels mailpush is measured against are the reference's output, and the reference
 * matches only these lists. So where a text matches a family only through mailpush's wider
 * wording, and a family later in the decision order matches through the reference's own
 * list, the reference decides the later family (the earlier one never fires there):
 * `./reason.ts` lets the later family win in that case and keeps the wider wording for
 * everything else (where it stands in for the reference's format readers).
 *
 * Written from memory of the reference's lists: phrases not remembered with confidence are
 * left out, which only means that the wider wording of the family keeps its place in the order.
 * A family without a list here is never demoted, and never overrides a demoted one.
 *
 * @module
 */

import { matchPhrases } from './phrases.js';
import type { Phrase, ReasonFamily } from './phrases.js';

/**
 * Reference lists by family (lower case). `reason.ts` asks {@link referenceWording} whether a
 * text holds the reference's wording of a family.
 *
 * @example
 * ```ts
 * import { matchPhrases } from './phrases.js';
 * matchPhrases('550 relay access denied', REFERENCE_PHRASES.norelaying); // undefined: no list for norelaying
 * matchPhrases('554 denied by policy', REFERENCE_PHRASES.policyviolation); // 'denied by policy'
 * ```
 */
export const REFERENCE_PHRASES: Readonly<Partial<Record<ReasonFamily, readonly Phrase[]>>> = Object.freeze({
  // Sisimai::Reason::Blocked: the connecting client (block lists, dynamic IPs, HELO).
  blocked: [
    ' said: 550 blocked',
    '//www.spamcop.net/bl.',
    'bad sender ip address',
    'banned sending ip',
    'blacklisted by',
    'currently sending spam see: ',
    'dynamic/zombied/spam ips blocked',
    'error: no valid recipients from ',
    'esmtp not accepting connections',
    'extreme bad ip profile',
    'helo command rejected:',
    'host network not allowed',
    'hosts with dynamic ip',
    'invalid ip for sending mail of domain',
    'is in a black list',
    'is not allowed to send mail from',
    'no access from mail server',
    'no matches to nameserver query',
    'not currently accepting mail from your ip',
    'part of their network is on our block list',
    'please use the smtp server of your isp',
    'refused - see http',
    'rejected - multi-blacklist',
    'rejected because the sending mta or the sender has not passed validation',
    'rejecting open proxy',
    'sender ip address rejected',
    'server access forbidden by your ip ',
    'service not available, closing transmission channel',
    'smtp error from remote mail server after initial connection:',
    'sorry, your remotehost looks suspiciously like spammer',
    'temporarily deferred due to unexpected volume or user complaints',
    'temporarily deferred due to user complaints',
    'to submit messages to this e-mail system has been rejected',
    'too many spams from your ip',
    'was blocked by ',
    'we do not accept mail from dynamic ips',
    'you are not allowed to connect',
    'your ip address is listed in the rbl',
    'your network is temporary blacklisted',
    'your remotehost looks suspiciously like spammer',
    'barracudacentral.org',
    ['access from ip address ', ' blocked'],
    ['client host ', ' blocked using'],
    // DNSBL refusals name the client in other words too ("client [ip] blocked using", "host
    // [ip] blocked using"): the reference reads them as blocked. Kept whole so that such
    // refusals are never taken as wider wording.
    'blocked using',
    ['connections will not be accepted from ', 'spamhaus'],
    ['dnsbl:', 'rbl'],
    ['ip ', ' is blocked by earthlink'],
    ['is in an ', 'rbl on '],
    ['mail server at ', ' is blocked'],
    ['mail from ', ' refused:'],
    ['message from ', ' rejected based on blacklist'],
    ['messages from ', ' temporarily deferred due to user complaints'],
    ['server ip ', ' listed as abusive'],
    ['sorry! your ip address', ' is blocked by rbl'],
    ['the ip', ' is blacklisted'],
    ["your sender's ip address is listed at ", '.abuseat.org'],
  ],
  // Sisimai::Reason::Rejected: the envelope sender.
  rejected: [
    'access denied (in reply to mail from command)',
    'access denied (sender blacklisted)',
    'address rejected',
    'backscatter protection detected an invalid or expired email address',
    'because the sender is black listed',
    'bogus mail from',
    'connections not accepted from servers without a valid sender domain',
    'denied [bouncedeny]',
    'denied by secumail valid-address-filter',
    'domain of sender address ',
    'email address is not verified',
    'emetteur invalide',
    'empty envelope senders not allowed',
    'envelope blocked - ',
    'error: no third-party dsns',
    'from: domain is invalid. please provide a valid from:',
    'fully qualified email address required',
    'invalid domain, see <url:',
    'invalid sender',
    'is not a registered gateway user',
    'mail from not owned by user',
    'mailfrom domain is listed in spamhaus',
    'null sender is not allowed',
    'returned mail not accepted here',
    'rfc 1035 violation: recursive cname records for',
    'rule imposed mailbox access for',
    'sender address has been blacklisted',
    'sender email address rejected',
    'sender is in my badmailfrom list',
    'sender is spammer',
    'sender not pre-approved',
    'sender rejected',
    'sender domain is empty',
    'sender verify failed',
    'syntax error: empty email address',
    'the message has been rejected by batv defense',
    'this server does not accept mail from',
    'transaction failed unsigned dsn for',
    'unroutable sender address',
    'you are not allowed to post to this mailing list',
    'you are sending to/from an address that has been blacklisted',
    'your access to submit messages to this e-mail system has been rejected',
    'your access to this mail system has been rejected',
    'your email address has been blacklisted',
    'is on senderfilterconfig list',
    'batv failed to verify',
    'batv validation failure',
  ],
  // Sisimai::Reason::AuthFailure: SPF, DKIM, DMARC of the sender domain.
  authfailure: [
    '//spf.pobox.com',
    'bad spf records for',
    'dmarc policy',
    'please inspect your spf settings',
    'sender policy framework (spf) fail',
    'sender policy framework violation',
    'spf (sender policy framework) domain authentication fail',
    'spf check: fail',
    // Google's 5.7.26 sentence, which the reference reads as authfailure.
    'does not have authentication information or fails to pass',
    [' is not allowed to send mail.', '_401'],
    ['is not allowed to send from <', ' per it\'s spf record'],
  ],
  // Sisimai::Reason::Suspend: the account is disabled, suspended or inactive.
  suspend: [
    ' is currently suspended',
    ' temporary locked',
    'address no longer accepts mail',
    'archived recipient',
    'boite du destinataire archivee',
    'email account that you tried to reach is disabled',
    'has been disabled or discontinued',
    'invalid/inactive user',
    'is a deactivated mailbox',
    'is unavailable: user is terminated',
    'mailbox is frozen',
    'mailbox unavailable or access denied',
    'recipient rejected: temporarily inactive',
    'recipient suspend the service',
    'this account has been disabled or discontinued',
    'this account has been temporarily suspended',
    'this mailbox is disabled',
    'user or domain is disabled',
    'user suspended',
    'vdelivermail: account is locked email bounced',
  ],
  // Sisimai::Reason::SpamDetected: the content judged spam.
  spamdetected: [
    'help_spam_16.htm',
    '554 5.7.0 reject, id=',
    'appears to be unsolicited',
    'blacklisted url in message',
    'block for spam',
    'blocked by policy: no spam please',
    'blocked by spamassassin',
    'classified as **spam**',
    'content filter rejection',
    'identified this email as a bulk email',
    'denied due to spam list',
    'high probability of spam',
    'is classified as spam and is rejected',
    'listed in work.drbl.imedia.ru',
    'detected your message as spam',
    'mail appears to be unsolicited',
    'mail content denied',
    'may consider spam',
    'message considered as spam or virus',
    'message contains spam content',
    'message is being rejected as it seems to be a spam',
    'message looks like spam',
    'message looks like a spam',
    'message rejected as spam',
    'message rejected because of unacceptable content',
    'message rejected due to suspected spam content',
    'message refused by mailmarshal spamprofiler',
    'our filters rate at and above ',
    'probable spam',
    'reject bulk.advertising',
    'rejected: spamassassin score ',
    'rejected - bulk mail',
    'rejected due to spam content',
    'rejected for spam',
    'rejected as spam',
    'rejected by spamassassin',
    'rejected by spam filter',
    'rejecting banned content',
    'rejecting mail content',
    'related to content with spam-like characteristics',
    'sender domain listed at ',
    'sending address not accepted due to spam filter',
    'spam blocked',
    'spam content matched',
    'spam detected',
    'spam email',
    'spam message rejected',
    'spam not accepted',
    'spam refused',
    'spam rejection',
    'spam score ',
    'spambouncer identified spam',
    'spamming not allowed',
    'too many spam complaints',
    'too much spam.',
    'was detected as spam',
    'has been rejected by spam filtering engine',
    'rejected due to classification as bulk mail',
    'content of this message looked like spam',
    'this message appears to be spam',
    'has been identified as spam',
    'has been scored as spam with a probability',
    'this message was classified as spam',
    'rejected by recurrent pattern detection system',
    'spam message not queued',
    'we dont accept spam',
    'appears similar to spam we have received before',
    'breaches local uribl policy',
    'your email had spam-like ',
    'your email is considered spam',
    'your email is probably spam',
    'as spam and has prevented delivery',
    'temporarily blocked by our filter',
    'rejected because it appears to be spam',
    'triggered a spam block',
    'may contain the spam contents',
    'failed several antispam checks',
    ['mail rejete. mail rejected. ', '506'],
    ['rejected by ', ' (spam)'],
    ['rejected due to spam ', 'classification'],
    ['rule imposed as ', ' is blacklisted on'],
    ['spam ', ' exceeded'],
    ['this message scored ', ' spam points'],
  ],
  // Sisimai::Reason::PolicyViolation: the site's policy (second pass only).
  policyviolation: [
    'an illegal attachment on your message',
    'because the recipient is not accepting mail with ',
    'by non-member to a members-only list',
    'closed mailing list',
    'denied by policy',
    'email not accepted for policy reasons',
    'email rejected due to security policies',
    'header are not accepted',
    'header error',
    'local policy violation',
    'message bounced due to organizational settings',
    'message given low priority',
    'message not accepted for policy reasons',
    'message rejected due to local policy',
    'messages with multiple addresses',
    'rejected for policy reasons',
    'protocol violation',
    'the email address used to send your message is not subscribed to this group',
    'the message was rejected by organization policy',
    'this message was blocked because its content presents a potential',
    'we do not accept messages containing images or other attachments',
    'you\'re using a mass mailer',
    ['you have exceeded the', 'allowable number of posts without solving a captcha'],
  ],
  // Sisimai::Reason::Expired: the queue lifetime ran out.
  expired: [
    'connection timed out',
    'could not find a gateway for',
    'delivery attempts will continue to be',
    'delivery expired',
    'delivery time expired',
    'failed to deliver to domain ',
    'giving up on',
    'has been delayed',
    'have been failing for a long time',
    'has been failing for a long time',
    'it has not been collected after',
    'message could not be delivered for more than',
    'message expired',
    'message has been in the queue too long',
    'message timed out',
    'retry time not reached for any host after a long failure period',
    'server did not respond',
    'unable to deliver message after multiple retries',
    'was not reachable within the allowed queue period',
    ['could not be delivered for', ' days'],
  ],
  // Sisimai::Reason::NetworkError: DNS failures, no route, loops.
  networkerror: [
    'could not connect and send the mail to',
    'dns records for the destination computer could not be found',
    'hop count exceeded - possible mail loop',
    'host is unreachable',
    'host name lookup failure',
    'host not found, try again',
    'mail forwarding loop for ',
    'malformed name server reply',
    'malformed or unexpected name server reply',
    'maximum forwarding loop count exceeded',
    'message looping',
    'message probably in a routing loop',
    'no route to host',
    'too many hops',
    'unable to resolve route ',
    'unrouteable mail domain',
  ],
  // Sisimai::Reason::SystemError: the remote mail system's own error.
  systemerror: [
    'aliasing/forwarding loop broken',
    "can't create user output file",
    'could not load drd for domain',
    'internal error reading data',
    'internal server error: operation now in progress',
    'interrupted system call',
    'it encountered an error while being processed',
    'it would create a mail loop',
    'local configuration error',
    'local error in processing',
    'loop was found in the mail exchanger',
    'loops back to myself',
    'mail system configuration error',
    'queue file write error',
    'recipient deferred because there is no mdb',
    'remote server is misconfigured',
    'server configuration error',
    'service currently unavailable',
    'system config error',
    'timeout waiting for input',
    'transaction failed ',
  ],
  // Sisimai::Reason::NotAccept: the destination accepts no mail (null MX).
  notaccept: [
    'does not accept mail',
    'mail receiving disabled',
    'name server: .: host not found',
    'no mx record found for domain=',
    'no route for current request',
    'smtp protocol returned a permanent error',
  ],
  // Sisimai::Reason::Filtered: the recipient's own filter or preference.
  filtered: [
    'because the recipient is only accepting mail from specific email addresses',
    'bounced address',
    'due to extended inactivity new mail is not currently being accepted for this mailbox',
    'has restricted sms e-mail',
    'is not accepting any mail',
    'message filtered',
    'message rejected due to user rules',
    'not found recipient account',
    'recipient id refuse to receive mail',
    'recipient is only accepting mail from specific email addresses',
    'refused due to recipient preferences',
    'resolver.rst.notauthorized',
    'this account is protected by',
    'user refuses to receive this mail',
    'user reject',
    'you have been blocked by the recipient',
  ],
  // Sisimai::Reason::MailerError: the local delivery program.
  mailererror: [
    ' || exit ',
    'procmail: ',
    'bin/procmail',
    'bin/maidrop',
    'command failed: ',
    'command died with status ',
    'command output:',
    'mail.local: ',
    'pipe to |/',
    'x-unix; ',
  ],
});

/**
 * Families whose reference list here is known to be incomplete (long lists, partly
 * remembered): their own wording may override a held hit of another family, but a text that
 * misses this list is not taken as wider wording of the family (that could be a phrase of the
 * reference's list that is not here).
 */
export const OVERRIDE_ONLY: ReadonlySet<ReasonFamily> = new Set<ReasonFamily>(['spamdetected', 'suspend']);

/**
 * Whether `text` (lower case) holds the reference's own wording of `family`: `'reference'` when
 * its list matches, `'wider'` when the family has a list here that does not match (so a match of
 * the family can only come from mailpush's wider wording), `'unlisted'` when there is no list
 * (or only a partial one, {@link OVERRIDE_ONLY}).
 *
 * @example
 * ```ts
 * referenceWording('554 message rejected due to local policy', 'policyviolation'); // 'reference'
 * referenceWording('550 your ip is blocked', 'blocked'); // 'wider'
 * referenceWording('550 mailbox full', 'mailboxfull'); // 'unlisted'
 * ```
 */
export function referenceWording(text: string, family: ReasonFamily): 'reference' | 'wider' | 'unlisted' {
  const list = REFERENCE_PHRASES[family];
  if (list === undefined) return 'unlisted';
  if (matchPhrases(text, list) !== undefined) return 'reference';
  return OVERRIDE_ONLY.has(family) ? 'unlisted' : 'wider';
}
