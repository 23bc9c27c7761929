import { describe, expect, it } from 'vitest';
import {
  classifiedError,
  classify,
  createClassifier,
  defaultClassificationRules,
  defaultClassifier,
  HARD_CATEGORIES,
  HTTP_ERROR_CODE,
  MAX_RETRY_AFTER_MS,
} from '../../src/classify/index.js';
import type { ClassificationRule } from '../../src/classify/index.js';
import { isMailError, MailErrorCode } from '../../src/errors.js';
import type { ClassifyInput, Outcome } from '../../src/types.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

interface Row {
  /** Where the reply comes from, for the test name. */
  readonly from: string;
  readonly input: ClassifyInput;
  readonly outcome: Outcome;
  readonly category: string;
  readonly hard?: boolean;
  readonly retryAfterMs?: number;
}

// Real-world replies (texts as servers send them, multi-line ones with CRLF).
const rows: readonly Row[] = [
  // ---------------------------------------------------------------- Gmail
  {
    from: 'Gmail 421 4.7.28 unsolicited rate',
    input: {
      responseCode: 421,
      text: '421-4.7.28 [203.0.113.5] Gmail has detected an unusual rate of unsolicited mail originating\r\n421-4.7.28 from your DKIM domain [example.com 12]. To protect our users from spam, mail sent from your\r\n421 4.7.28 domain has been temporarily rate limited. https://support.google.com/mail/?p=UnsolicitedRateLimitError x - gsmtp',
    },
    outcome: 'throttled',
    category: 'ratelimited',
    retryAfterMs: 10 * MIN,
  },
  {
    from: 'Gmail 421 4.7.0 unsolicited rate under 4.7.0',
    input: { responseCode: 421, text: '421-4.7.0 [203.0.113.5 15] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.' },
    outcome: 'throttled',
    category: 'ratelimited',
    retryAfterMs: 10 * MIN,
  },
  {
    from: 'Gmail 550 5.7.1 unsolicited rate block',
    input: { responseCode: 550, text: '550-5.7.1 [203.0.113.5] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been blocked.' },
    outcome: 'permanent',
    category: 'blocked',
  },
  { from: 'Gmail 421 4.7.0 try again later', input: { responseCode: 421, text: '421 4.7.0 Try again later, closing connection. (EHLO) x - gsmtp' }, outcome: 'throttled', category: 'ratelimited' },
  {
    from: 'Gmail 450 4.2.1 receiving too quickly',
    input: { responseCode: 450, text: '450-4.2.1 The user you are trying to contact is receiving mail too\r\n450-4.2.1 quickly. Please resend your message at a later time. If the user is able to receive\r\n450 4.2.1 mail at that time, your message will be delivered. x - gsmtp' },
    outcome: 'throttled',
    category: 'ratelimited',
  },
  { from: 'Gmail 450 4.2.1 receiving at a rate', input: { responseCode: 450, text: '450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.' }, outcome: 'throttled', category: 'ratelimited' },
  { from: 'Gmail 550 5.2.1 receiving at a rate (a 5xx is not retried)', input: { responseCode: 550, text: '550-5.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.' }, outcome: 'permanent', category: 'ratelimited', hard: false },
  {
    from: 'Gmail 550 5.1.1 no such user',
    input: { responseCode: 550, text: "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n550-5.1.1 double-checking the recipient's email address for typos or\r\n550-5.1.1 unnecessary spaces. Learn more at\r\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser x - gsmtp" },
    outcome: 'permanent',
    category: 'userunknown',
    hard: true,
  },
  { from: 'Gmail 550 5.2.1 disabled', input: { responseCode: 550, text: '550-5.2.1 The email account that you tried to reach is disabled. x - gsmtp' }, outcome: 'permanent', category: 'suspend', hard: false },
  { from: 'Gmail 552 5.2.2 over quota', input: { responseCode: 552, text: '552-5.2.2 The email account that you tried to reach is over quota. Please direct the recipient to x - gsmtp' }, outcome: 'transient', category: 'mailboxfull', hard: false },
  { from: 'Gmail 452 4.2.2 over quota', input: { responseCode: 452, text: '452-4.2.2 The email account that you tried to reach is over quota.' }, outcome: 'transient', category: 'mailboxfull' },
  { from: 'Gmail 552 5.2.3 too large', input: { responseCode: 552, text: "552-5.2.3 Your message exceeded Google's message size limits." }, outcome: 'permanent', category: 'emailtoolarge' },
  { from: 'Gmail 550 5.7.26 unauthenticated', input: { responseCode: 550, text: '550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users, and has been blocked. The sender must authenticate with at least one of SPF or DKIM.' }, outcome: 'permanent', category: 'authfailure', hard: false },
  { from: 'Gmail 550 5.7.26 DMARC', input: { responseCode: 550, text: "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy." }, outcome: 'permanent', category: 'authfailure', hard: false },
  { from: 'Gmail 421 4.7.30 DKIM rate limit', input: { responseCode: 421, text: "421-4.7.30 This email has been rate limited because DKIM authentication didn't pass for this message." }, outcome: 'transient', category: 'authfailure' },
  { from: 'Gmail 550 5.7.25 PTR', input: { responseCode: 550, text: '550-5.7.25 [2001:db8::1] The IP address sending this message does not have a PTR record setup, or the corresponding forward DNS entry does not point to the sending IP.' }, outcome: 'permanent', category: 'requireptr' },
  { from: 'Gmail 550 5.7.1 likely unsolicited', input: { responseCode: 550, text: '550-5.7.1 [203.0.113.5] Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked.' }, outcome: 'permanent', category: 'spamdetected' },
  { from: 'Gmail 550 5.7.1 low reputation', input: { responseCode: 550, text: '550-5.7.1 Our system has detected that this message is likely suspicious due to the very low reputation of the sending IP address.' }, outcome: 'permanent', category: 'badreputation' },
  { from: 'Gmail 550 5.7.1 recipient policy', input: { responseCode: 550, text: '550-5.7.1 The user or domain that you are sending to (or from) has a policy that prohibited the mail that you sent.' }, outcome: 'permanent', category: 'policyviolation' },
  { from: 'Gmail 552 5.7.0 security issue', input: { responseCode: 552, text: '552-5.7.0 This message was blocked because its content presents a potential security issue.' }, outcome: 'permanent', category: 'contenterror' },
  { from: 'Gmail 421 4.7.0 TLS required', input: { responseCode: 421, text: '421-4.7.0 TLS required for RCPT domain, closing connection.' }, outcome: 'transient', category: 'securityerror' },
  { from: 'Gmail 550 5.4.5 sending quota', input: { responseCode: 550, text: '550 5.4.5 Daily user sending quota exceeded.' }, outcome: 'permanent', category: 'ratelimited', hard: false },
  { from: 'Gmail 421 4.3.0 temporary system problem', input: { responseCode: 421, text: '421-4.3.0 Temporary System Problem. Try again later (10).' }, outcome: 'transient', category: 'systemerror' },
  { from: 'Gmail 535 5.7.8 bad credentials', input: { responseCode: 535, errorCode: 'EAUTH', text: '535-5.7.8 Username and Password not accepted.' }, outcome: 'permanent', category: 'authfailure', hard: false },

  // ---------------------------------------------------------------- Microsoft 365 / Outlook.com / Exchange
  { from: 'Microsoft 451 4.7.500 server busy', input: { responseCode: 451, text: '451 4.7.500 Server busy. Please try again later from [203.0.113.5]. (S77714) [AM0PR01MB1234.eurprd01.prod.exchangelabs.com]' }, outcome: 'throttled', category: 'ratelimited', hard: false },
  { from: 'Microsoft 451 4.7.650 IP reputation rate limit', input: { responseCode: 451, text: '451 4.7.650 The mail server [203.0.113.5] has been temporarily rate limited due to IP reputation. (S775)' }, outcome: 'throttled', category: 'ratelimited' },
  { from: 'Microsoft 421 4.3.2 concurrent connections', input: { responseCode: 421, text: '421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing transmission channel' }, outcome: 'throttled', category: 'ratelimited' },
  { from: 'Outlook.com 421 RP-001', input: { responseCode: 421, text: "421 RP-001 (BAY004-MC1F25) Unfortunately, some messages from 203.0.113.5 weren't sent. Please try again. We have limits for how many messages can be sent per hour and per day." }, outcome: 'throttled', category: 'ratelimited' },
  { from: 'Outlook.com 550 SC-001 block list', input: { responseCode: 550, text: "550 SC-001 (COL004-MC1F3) Unfortunately, messages from 203.0.113.5 weren't sent. Please contact your Internet service provider since part of their network is on our block list." }, outcome: 'permanent', category: 'blocked', hard: false },
  { from: 'Microsoft 550 5.1.10 recipient not found', input: { responseCode: 550, text: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'Microsoft 550 5.4.1 directory based edge blocking', input: { responseCode: 550, text: '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'Microsoft 550 5.7.606 banned sending IP', input: { responseCode: 550, text: '550 5.7.606 Access denied, banned sending IP [203.0.113.5]. To request removal from this list please visit https://sender.office.com/' }, outcome: 'permanent', category: 'blocked', hard: false },
  { from: 'Microsoft 550 5.7.708 traffic not accepted', input: { responseCode: 550, text: '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.' }, outcome: 'permanent', category: 'blocked' },
  { from: 'Microsoft 550 5.7.515 authentication level', input: { responseCode: 550, text: "550 5.7.515 Access denied, sending domain example.com doesn't meet the required authentication level." }, outcome: 'permanent', category: 'authfailure', hard: false },
  { from: 'Microsoft 550 5.7.509 DMARC reject', input: { responseCode: 550, text: '550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.' }, outcome: 'permanent', category: 'authfailure' },
  { from: 'Microsoft 421 4.7.66 old TLS', input: { responseCode: 421, text: '421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2.' }, outcome: 'transient', category: 'securityerror' },
  { from: 'Microsoft 550 5.4.310 DNS domain does not exist', input: { responseCode: 550, text: '550 5.4.310 DNS domain example.invalid does not exist [Message=InfoDomainNonexistent] [LastAttemptedServerName=example.invalid]' }, outcome: 'permanent', category: 'hostunknown', hard: true },
  { from: 'Outlook.com 550 5.5.0 mailbox unavailable', input: { responseCode: 550, text: '550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [x.namprd.prod.outlook.com]' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'Exchange 550 5.1.1 RESOLVER.ADR.RecipNotFound', input: { responseCode: 550, text: '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'Exchange 550 5.7.1 unable to relay', input: { responseCode: 550, text: '550 5.7.1 Unable to relay' }, outcome: 'permanent', category: 'norelaying', hard: false },
  { from: 'Exchange 554 5.4.4 nonexistent domain', input: { responseCode: 554, text: '554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain' }, outcome: 'permanent', category: 'hostunknown', hard: true },
  { from: 'Exchange 452 4.3.1 insufficient resources', input: { responseCode: 452, text: '452 4.3.1 Insufficient system resources (UsedDiskSpace[C:\\Program Files\\Microsoft\\Exchange Server\\V15\\TransportRoles\\data\\Queue])' }, outcome: 'transient', category: 'systemfull' },
  { from: 'Exchange 421 4.4.2 connection dropped', input: { responseCode: 421, text: '421 4.4.2 Connection dropped due to SocketError' }, outcome: 'transient', category: 'networkerror' },
  { from: 'Exchange 554 5.2.2 mailbox full (STOREDRV)', input: { responseCode: 554, text: '554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded' }, outcome: 'transient', category: 'mailboxfull', hard: false },
  { from: 'Exchange 530 5.7.1 client not authenticated', input: { responseCode: 530, text: '530 5.7.1 Client was not authenticated' }, outcome: 'permanent', category: 'securityerror', hard: false },

  // ---------------------------------------------------------------- Yahoo / AOL
  { from: 'Yahoo 421 4.7.0 [TSS04]', input: { responseCode: 421, text: '421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes' }, outcome: 'throttled', category: 'ratelimited', hard: false, retryAfterMs: 4 * HOUR },
  { from: 'Yahoo 553 5.7.2 [TSS09] permanent deferral', input: { responseCode: 553, text: '553 5.7.2 [TSS09] All messages from 203.0.113.5 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes' }, outcome: 'permanent', category: 'blocked', hard: false },
  { from: 'Yahoo 421 4.7.1 [TS03] permanent deferral sent as 4xx', input: { responseCode: 421, text: '421 4.7.1 [TS03] All messages from 203.0.113.5 will be permanently deferred; Retrying will NOT succeed. See https://help.yahoo.com/kb/postmaster/SLN3434.html' }, outcome: 'permanent', category: 'blocked', hard: false },
  { from: 'Yahoo 554 5.7.9 policy reasons', input: { responseCode: 554, text: '554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes' }, outcome: 'permanent', category: 'policyviolation', hard: false },
  { from: 'Yahoo 550 5.7.9 unauthenticated sender', input: { responseCode: 550, text: '550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM.' }, outcome: 'permanent', category: 'authfailure' },
  { from: 'Yahoo 554 dd no account', input: { responseCode: 554, text: "554 delivery error: dd This user doesn't have a yahoo.com account (nobody@yahoo.com) [0] - mta1082.mail.bf1.yahoo.com" }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'Yahoo 554 dd mailbox disabled', input: { responseCode: 554, text: '554 delivery error: dd Sorry your message to x@yahoo.com cannot be delivered. This mailbox is disabled (554.30). - mta1234.mail.ne1.yahoo.com' }, outcome: 'permanent', category: 'suspend', hard: false },
  { from: 'AOL 421 DYN:T1', input: { responseCode: 421, text: '421 DYN:T1 http://postmaster.info.aol.com/errors/421dynt1.html' }, outcome: 'throttled', category: 'ratelimited' },

  // ---------------------------------------------------------------- Postfix
  { from: 'Postfix 550 5.1.1 user unknown in local table', input: { responseCode: 550, text: '550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'Postfix 450 4.1.1 unverified address (soft)', input: { responseCode: 450, text: '450 4.1.1 <a@example.com>: Recipient address rejected: unverified address: host mx.example.com[192.0.2.1] said: 550 5.1.1 user unknown' }, outcome: 'transient', category: 'userunknown', hard: false },
  { from: 'Postfix 450 4.1.2 recipient domain not found', input: { responseCode: 450, text: '450 4.1.2 <a@nowhere.invalid>: Recipient address rejected: Domain not found' }, outcome: 'transient', category: 'hostunknown', hard: false },
  { from: 'Postfix 450 4.1.8 sender domain not found (not the recipient)', input: { responseCode: 450, text: '450 4.1.8 <bounce@example.com>: Sender address rejected: Domain not found' }, outcome: 'transient', category: 'rejected', hard: false },
  { from: 'Postfix 550 5.1.0 sender user unknown (not hard)', input: { responseCode: 550, text: '550 5.1.0 <bounce@example.com>: Sender address rejected: User unknown in local recipient table' }, outcome: 'permanent', category: 'rejected', hard: false },
  { from: 'Postfix 554 5.7.1 relay access denied', input: { responseCode: 554, text: '554 5.7.1 <a@example.org>: Relay access denied' }, outcome: 'permanent', category: 'norelaying', hard: false },
  { from: 'Postfix 454 4.7.1 relay access denied', input: { responseCode: 454, text: '454 4.7.1 <a@example.org>: Relay access denied' }, outcome: 'transient', category: 'norelaying' },
  { from: 'Postfix 554 5.7.1 Spamhaus', input: { responseCode: 554, text: '554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.5' }, outcome: 'permanent', category: 'blocked', hard: false },
  { from: 'Postfix 450 4.7.1 cannot find hostname', input: { responseCode: 450, text: '450 4.7.1 Client host rejected: cannot find your hostname, [203.0.113.5]' }, outcome: 'transient', category: 'requireptr' },
  { from: 'Postfix 552 5.3.4 size', input: { responseCode: 552, text: '552 5.3.4 Message size exceeds fixed limit' }, outcome: 'permanent', category: 'emailtoolarge' },
  { from: 'Postfix 452 4.3.1 storage', input: { responseCode: 452, text: '452 4.3.1 Insufficient system storage' }, outcome: 'transient', category: 'systemfull' },
  { from: 'Postfix 450 4.2.0 greylisted', input: { responseCode: 450, text: '450 4.2.0 <a@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html' }, outcome: 'transient', category: 'onhold', retryAfterMs: 5 * MIN },
  { from: 'Postfix 421 4.7.0 too many connections', input: { responseCode: 421, text: '421 4.7.0 mx.example.com Error: too many connections from 203.0.113.5' }, outcome: 'throttled', category: 'ratelimited' },
  { from: 'Postfix 450 4.7.1 too much mail', input: { responseCode: 450, text: '450 4.7.1 Error: too much mail from 203.0.113.5' }, outcome: 'throttled', category: 'ratelimited' },
  { from: 'Postfix 452 4.5.3 too many recipients (not a throttle)', input: { responseCode: 452, text: '452 4.5.3 Error: too many recipients' }, outcome: 'transient', category: 'ratelimited' },
  { from: 'Postfix 504 5.5.2 HELO', input: { responseCode: 504, text: '504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname' }, outcome: 'permanent', category: 'requireptr' },
  { from: 'Postfix 503 5.5.1 bad sequence (nodemailer semantics)', input: { responseCode: 503, text: '503 5.5.1 Error: need RCPT command' }, outcome: 'transient', category: 'syntaxerror' },
  { from: 'Postfix 550 SPF fail', input: { responseCode: 550, text: '550 5.7.23 <a@example.com>: Recipient address rejected: Message rejected due to: SPF fail - not authorized.' }, outcome: 'permanent', category: 'authfailure' },

  // ---------------------------------------------------------------- Exim / cPanel / qmail / Sendmail
  { from: 'Exim 550 unrouteable address', input: { responseCode: 550, text: '550 Unrouteable address' }, outcome: 'permanent', category: 'hostunknown', hard: true },
  { from: 'Exim sender verify failed (not the recipient)', input: { responseCode: 550, text: '550-Verification failed for <bounce@example.com>\r\n550-Unrouteable address\r\n550 Sender verify failed' }, outcome: 'permanent', category: 'rejected', hard: false },
  { from: 'cPanel Exim 550 no such user here', input: { responseCode: 550, text: '550 No Such User Here"' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'Exim 550 administrative prohibition', input: { responseCode: 550, text: '550 Administrative prohibition' }, outcome: 'permanent', category: 'policyviolation' },
  { from: 'Exim 550 high probability of spam', input: { responseCode: 550, text: '550 High probability of spam' }, outcome: 'permanent', category: 'spamdetected' },
  { from: 'Exim 451 temporary local problem', input: { responseCode: 451, text: '451 Temporary local problem - please try later' }, outcome: 'transient', category: 'systemerror' },
  { from: 'qmail 553 not in rcpthosts', input: { responseCode: 553, text: "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)" }, outcome: 'permanent', category: 'norelaying' },
  { from: 'qmail 550 no mailbox by that name', input: { responseCode: 550, text: '550 sorry, no mailbox here by that name. (#5.1.1)' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'Sendmail 550 5.1.1 User unknown', input: { responseCode: 550, text: '550 5.1.1 <nobody@example.com>... User unknown' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'Sendmail 551 user not local', input: { responseCode: 551, text: '551 User not local; please try <new@example.org>' }, outcome: 'permanent', category: 'hasmoved', hard: true },
  { from: 'Sendmail 501 5.1.3 bad address syntax', input: { responseCode: 501, text: '501 5.1.3 Bad recipient address syntax' }, outcome: 'permanent', category: 'syntaxerror', hard: true },
  { from: 'Amavis 554 5.7.0 spam', input: { responseCode: 554, text: '554 5.7.0 Reject, id=20025-09 - SPAM' }, outcome: 'permanent', category: 'spamdetected' },
  { from: 'ClamAV 554 5.7.1 virus', input: { responseCode: 554, text: '554 5.7.1 Rejected: message contains a virus (Eicar-Test-Signature)' }, outcome: 'permanent', category: 'virusdetected' },
  { from: 'generic 550 5.2.1 User Unknown (wording beats 5.2.1)', input: { responseCode: 550, text: '550 5.2.1 <a@example.co.jp>... User Unknown' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'generic 556 5.1.10 null MX', input: { responseCode: 556, text: '556 5.1.10 Recipient address has null MX' }, outcome: 'permanent', category: 'notaccept', hard: true },
  { from: 'generic 521 does not accept mail', input: { responseCode: 521, text: '521 5.3.2 mx.example.com does not accept mail' }, outcome: 'permanent', category: 'notaccept', hard: true },
  { from: 'generic 550 mailbox unavailable (RFC 5321 wording)', input: { responseCode: 550, text: '550 Requested action not taken: mailbox unavailable' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'generic 550 5.7.1 mailbox unavailable is a policy refusal', input: { responseCode: 550, text: '550 5.7.1 Requested action not taken: mailbox unavailable' }, outcome: 'permanent', category: 'rejected', hard: false },
  { from: 'generic 552 mailbox full without status', input: { responseCode: 552, text: '552 Requested mail action aborted: exceeded storage allocation' }, outcome: 'transient', category: 'mailboxfull' },
  { from: 'generic 552 too many recipients (RFC 5321 says treat as 452)', input: { responseCode: 552, text: '552 Too many recipients' }, outcome: 'transient', category: 'ratelimited' },
  { from: 'generic 421 service not available', input: { responseCode: 421, text: '421 Service not available, closing transmission channel' }, outcome: 'transient', category: 'systemerror' },
  { from: 'generic 451 greylisting with a hint', input: { responseCode: 451, text: '451 4.7.1 Greylisting in action, please come back in 2 minutes' }, outcome: 'transient', category: 'onhold', retryAfterMs: 2 * MIN },
  { from: 'generic 421 too many concurrent connections with hint', input: { responseCode: 421, text: '421 Too many concurrent SMTP connections; please try again in 30 seconds' }, outcome: 'throttled', category: 'ratelimited', retryAfterMs: 30_000 },
  { from: 'generic 530 must issue STARTTLS', input: { responseCode: 530, text: '530 5.7.0 Must issue a STARTTLS command first' }, outcome: 'permanent', category: 'securityerror' },
  { from: 'generic 554 relay rate limited 5xx is not throttled', input: { responseCode: 554, text: '554 5.7.1 Rate limit exceeded for this sender' }, outcome: 'permanent', category: 'ratelimited', hard: false },
  { from: 'generic 554 duplicate DKIM header is content', input: { responseCode: 554, text: "554 Transaction failed: Duplicate header 'DKIM-Signature'." }, outcome: 'permanent', category: 'contenterror' },

  // ---------------------------------------------------------------- Amazon SES and HTTP APIs
  { from: 'SES SMTP 454 maximum sending rate', input: { responseCode: 454, text: '454 Throttling failure: Maximum sending rate exceeded.' }, outcome: 'throttled', category: 'ratelimited' },
  { from: 'SES SMTP 454 daily quota', input: { responseCode: 454, text: '454 Throttling failure: Daily message quota exceeded.' }, outcome: 'throttled', category: 'ratelimited', retryAfterMs: HOUR },
  { from: 'SES API TooManyRequestsException', input: { responseCode: 429, errorCode: 'TooManyRequestsException', text: 'Maximum sending rate exceeded.' }, outcome: 'throttled', category: 'ratelimited' },
  { from: 'SES API v1 Throttling with HTTP 400', input: { responseCode: 400, errorCode: 'Throttling', text: 'Rate exceeded' }, outcome: 'throttled', category: 'ratelimited' },
  { from: 'SES API LimitExceededException (daily quota)', input: { responseCode: 400, errorCode: 'LimitExceededException', text: 'Daily message quota exceeded.' }, outcome: 'throttled', category: 'ratelimited', retryAfterMs: HOUR },
  { from: 'SES API MessageRejected not verified', input: { responseCode: 400, errorCode: 'MessageRejected', text: 'Email address is not verified. The following identities failed the check in region US-EAST-1: a@example.com' }, outcome: 'permanent', category: 'authfailure' },
  { from: 'SES API MessageRejected', input: { responseCode: 400, errorCode: 'MessageRejected', text: 'Transaction failed' }, outcome: 'permanent', category: 'rejected' },
  { from: 'SES API SendingPausedException', input: { responseCode: 400, errorCode: 'SendingPausedException', text: 'Sending is paused for this account.' }, outcome: 'transient', category: 'blocked' },
  { from: 'SES API 503 ServiceUnavailable', input: { responseCode: 503, errorCode: 'ServiceUnavailable', text: 'Service is unavailable' }, outcome: 'transient', category: 'systemerror' },
  { from: 'HTTP 429 with Retry-After', input: { responseCode: 429, text: 'Too Many Requests; Retry-After: 120' }, outcome: 'throttled', category: 'ratelimited', retryAfterMs: 120_000 },
  { from: 'HTTP 503 reason phrase', input: { responseCode: 503, text: 'Service Unavailable' }, outcome: 'transient', category: 'systemerror' },
  { from: 'HTTP 500 with EHTTP', input: { responseCode: 500, errorCode: HTTP_ERROR_CODE, text: '{"errors":[{"message":"internal error"}]}' }, outcome: 'transient', category: 'systemerror' },
  { from: 'HTTP 502 bare', input: { responseCode: 502 }, outcome: 'transient', category: 'systemerror' },
  { from: 'SendGrid 401', input: { responseCode: 401, text: 'The provided authorization grant is invalid, expired, or revoked' }, outcome: 'permanent', category: 'authfailure' },
  { from: 'SendGrid 413', input: { responseCode: 413, text: 'Payload Too Large' }, outcome: 'permanent', category: 'emailtoolarge' },
  { from: 'SendGrid 400', input: { responseCode: 400, text: '{"errors":[{"message":"The from object must be provided for every email send.","field":"from"}]}' }, outcome: 'permanent', category: 'syntaxerror' },

  // ---------------------------------------------------------------- library and OS errors
  { from: 'nodemailer ECONNECTION', input: { errorCode: 'ECONNECTION', text: 'Connection closed unexpectedly' }, outcome: 'transient', category: 'networkerror' },
  { from: 'Node ECONNREFUSED', input: { errorCode: 'ECONNREFUSED', text: 'connect ECONNREFUSED 127.0.0.1:25' }, outcome: 'transient', category: 'networkerror' },
  { from: 'Node ECONNRESET', input: { errorCode: 'ECONNRESET' }, outcome: 'transient', category: 'networkerror' },
  { from: 'nodemailer ETIMEDOUT greeting', input: { errorCode: 'ETIMEDOUT', text: 'Greeting never received' }, outcome: 'transient', category: 'networkerror' },
  { from: 'nodemailer EDNS', input: { errorCode: 'EDNS', text: 'queryMx ENOTFOUND example.invalid' }, outcome: 'transient', category: 'networkerror' },
  { from: 'nodemailer ESOCKET', input: { errorCode: 'ESOCKET', text: 'read ECONNRESET' }, outcome: 'transient', category: 'networkerror' },
  { from: 'nodemailer EAUTH without reply', input: { errorCode: 'EAUTH', text: 'Missing credentials for "PLAIN"' }, outcome: 'permanent', category: 'authfailure', hard: false },
  { from: 'nodemailer EAUTH with 454', input: { errorCode: 'EAUTH', responseCode: 454, text: '454 4.7.0 Temporary authentication failure' }, outcome: 'transient', category: 'authfailure' },
  { from: 'nodemailer ETLS', input: { errorCode: 'ETLS', text: 'Error initiating TLS - unable to verify the first certificate' }, outcome: 'permanent', category: 'securityerror' },
  { from: 'nodemailer EENVELOPE no recipients', input: { errorCode: 'EENVELOPE', text: 'No recipients defined' }, outcome: 'permanent', category: 'syntaxerror', hard: false },
  { from: 'nodemailer EENVELOPE invalid recipient', input: { errorCode: 'EENVELOPE', text: 'Invalid recipient "a@@b"' }, outcome: 'permanent', category: 'syntaxerror', hard: false },
  { from: 'nodemailer EENVELOPE with a 550 5.1.1 reply', input: { errorCode: 'EENVELOPE', responseCode: 550, text: '550 5.1.1 <a@example.com>: Recipient address rejected: User unknown' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'nodemailer EMESSAGE size', input: { errorCode: 'EMESSAGE', text: 'Message size larger than allowed 10485760' }, outcome: 'permanent', category: 'emailtoolarge' },
  { from: 'nodemailer EMESSAGE with 451', input: { errorCode: 'EMESSAGE', responseCode: 451, text: '451 4.3.0 Error: queue file write error' }, outcome: 'transient', category: 'systemerror' },

  // ---------------------------------------------------------------- DSN diagnostics (bounce parser)
  { from: 'DSN smtp; 550 5.1.1', input: { text: 'smtp; 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown in virtual mailbox table' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'DSN code without status', input: { text: 'smtp; 550 No such user here' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'DSN X-Postfix said:', input: { text: 'X-Postfix; host mx.example.com[192.0.2.1] said: 552 5.2.2 <a@example.com>: Quota exceeded (mailbox for user is full) (in reply to RCPT TO command)' }, outcome: 'transient', category: 'mailboxfull' },
  { from: 'DSN delayed 4.4.7', input: { enhancedStatus: '4.4.7', text: 'X-Postfix; connect to mx.example.com[192.0.2.1]:25: Connection timed out' }, outcome: 'transient', category: 'expired' },
  { from: 'DSN status with comment', input: { enhancedStatus: '5.1.10 (host/domain does not accept mail)' }, outcome: 'permanent', category: 'userunknown', hard: true },
  { from: 'DSN Host or domain name not found', input: { enhancedStatus: '5.4.4', text: 'X-Postfix; Host or domain name not found. Name service error for name=example.invalid type=A: Host not found' }, outcome: 'permanent', category: 'hostunknown', hard: true },
  { from: 'DSN Exim retry timeout', input: { enhancedStatus: '5.0.0', text: 'retry timeout exceeded' }, outcome: 'permanent', category: 'expired', hard: false },
  { from: 'DSN delivered', input: { enhancedStatus: '2.0.0', text: 'smtp; 250 2.0.0 OK 1234 - gsmtp' }, outcome: 'accepted', category: 'delivered' },
  { from: 'DSN mailbox full via status only', input: { enhancedStatus: '5.2.2' }, outcome: 'transient', category: 'mailboxfull', hard: false },

  // ---------------------------------------------------------------- accepted
  { from: 'SMTP 250 queued', input: { responseCode: 250, text: '250 2.0.0 Ok: queued as 4F2C1A0B' }, outcome: 'accepted', category: 'delivered', hard: false },
  { from: 'HTTP 202 accepted', input: { responseCode: 202 }, outcome: 'accepted', category: 'delivered' },
];

describe('classify: real-world replies', () => {
  it('has a table of at least 60 replies', () => {
    expect(rows.length).toBeGreaterThanOrEqual(60);
  });

  it.each(rows.map((r) => [r.from, r] as const))('%s', (_name, row) => {
    const c = classify(row.input);
    expect({ outcome: c.outcome, category: c.category }).toEqual({ outcome: row.outcome, category: row.category });
    if (row.hard !== undefined) expect(c.hard).toBe(row.hard);
    expect(c.retryAfterMs).toBe(row.retryAfterMs);
    expect(typeof c.rule).toBe('string');
  });
});

describe('classify: invariants over the table', () => {
  it('never marks a non-permanent outcome as hard', () => {
    for (const row of rows) {
      const c = classify(row.input);
      if (c.outcome !== 'permanent') expect(c.hard, row.from).toBe(false);
    }
  });

  it('never throttles a 5xx SMTP reply, whatever the wording', () => {
    const texts = ['rate limited', 'too many connections', 'throttled', 'slow down', '[TSS04] temporarily deferred due to unexpected volume', 'unusual rate of unsolicited mail'];
    for (const code of [550, 551, 552, 553, 554]) {
      for (const text of texts) {
        expect(classify({ responseCode: code, text: `${code} ${text}` }).outcome, `${code} ${text}`).toBe('permanent');
      }
    }
  });

  it('keeps X.2.2 mailbox full soft and transient under every 4xx/5xx code', () => {
    for (const code of [450, 452, 550, 552, 554]) {
      const c = classify({ responseCode: code, text: `${code} ${code >= 500 ? '5' : '4'}.2.2 Mailbox full` });
      expect(c).toMatchObject({ outcome: 'transient', category: 'mailboxfull', hard: false });
    }
  });

  it('never hard-bounces 5.7.x policy, authentication or reputation blocks', () => {
    for (const status of ['5.7.0', '5.7.1', '5.7.26', '5.7.27', '5.7.30', '5.7.515', '5.7.606', '5.7.708', '5.7.9', '5.7.25']) {
      const c = classify({ responseCode: 550, text: `550 ${status} Access denied` });
      expect(c.outcome).toBe('permanent');
      expect(c.hard, status).toBe(false);
    }
  });

  it('reports the enhanced status it used, given or extracted', () => {
    expect(classify({ responseCode: 550, text: '550-5.1.1 x' }).enhancedStatus).toBe('5.1.1');
    expect(classify({ responseCode: 550, enhancedStatus: '5.2.2', text: '550 5.1.1 x' }).enhancedStatus).toBe('5.2.2');
    expect(classify({ responseCode: 550, text: 'no status here' }).enhancedStatus).toBeUndefined();
  });

  it('ignores a status in the text whose class contradicts the reply code', () => {
    const c = classify({ responseCode: 550, text: '550 Postfix 2.3.3 says no' });
    expect(c.enhancedStatus).toBeUndefined();
    expect(c.outcome).toBe('permanent');
  });

  it('derives the outcome from the enhanced status class when there is no reply code', () => {
    expect(classify({ enhancedStatus: '4.0.0' }).outcome).toBe('transient');
    expect(classify({ enhancedStatus: '5.0.0' }).outcome).toBe('permanent');
    expect(classify({ enhancedStatus: '2.0.0' }).outcome).toBe('accepted');
  });

  it('treats an input with nothing known as transient and undefined', () => {
    expect(classify({})).toEqual({ outcome: 'transient', category: 'undefined', hard: false, rule: 'default' });
  });

  it('lets a text hint win over a rule default, only for retried outcomes', () => {
    const hinted = classify({ responseCode: 421, text: '421 4.7.28 unusual rate of unsolicited mail, try again in 20 minutes' });
    expect(hinted.retryAfterMs).toBe(20 * MIN);
    const permanent = classify({ responseCode: 550, text: '550 5.1.1 user unknown, try again in 20 minutes' });
    expect(permanent.retryAfterMs).toBeUndefined();
  });

  it('caps an absurd hint at 24 hours', () => {
    expect(classify({ responseCode: 450, text: '450 4.2.0 please wait 9999 hours' }).retryAfterMs).toBe(MAX_RETRY_AFTER_MS);
  });
});

describe('classify: hostile and malformed input', () => {
  it('never throws on garbage fields', () => {
    const inputs: unknown[] = [
      undefined,
      null,
      42,
      'string',
      [],
      { responseCode: Number.NaN },
      { responseCode: Infinity, text: 12, enhancedStatus: {}, errorCode: 5 },
      { responseCode: -550, text: null },
      { responseCode: 550.5, text: '550 x' },
      { responseCode: 1e21, enhancedStatus: '9.9.9' },
      { enhancedStatus: '5.1', text: '\u0000\u0001\u0002' },
      { text: '\uD800\uDFFF\uFFFF'.repeat(1000) },
      Object.create(null),
    ];
    for (const input of inputs) {
      const c = classify(input as ClassifyInput);
      expect(['accepted', 'transient', 'throttled', 'permanent']).toContain(c.outcome);
      expect(typeof c.hard).toBe('boolean');
    }
  });

  it('ignores NaN and out-of-range reply codes', () => {
    expect(classify({ responseCode: Number.NaN, text: 'whatever' }).outcome).toBe('transient');
    expect(classify({ responseCode: 9999 }).outcome).toBe('transient');
    expect(classify({ responseCode: 150 }).outcome).toBe('transient');
  });

  it('survives an input whose getters throw', () => {
    const input = Object.defineProperty({}, 'text', {
      get() {
        throw new Error('boom');
      },
    });
    expect(classify(input as ClassifyInput)).toMatchObject({ outcome: 'transient', category: 'undefined' });
  });

  it('classifies a 1 MB hostile text without backtracking (CPU time, wide margin)', () => {
    const hostile = [
      `550 5.1.1 ${'a'.repeat(1 << 20)}`,
      'try again in '.repeat(80_000),
      `${'5.'.repeat(500_000)}1`,
      `${'550-'.repeat(250_000)}`,
      `${'\r\n550-5.1.1 '.repeat(90_000)}`,
      `retry-after: ${'9'.repeat(1 << 20)}`,
      `${'exceeded the '.repeat(80_000)}`,
      `${'\u0000\u0007\u001b'.repeat(350_000)}`,
      `${' '.repeat(1 << 20)}x`,
    ];
    for (const text of hostile) {
      // The text is cut to MAX_TEXT_LENGTH and every pattern is linear: microseconds. CPU time of
      // this process (wall time stretches with other work on a shared 2-core machine; 100 ms of
      // wall time failed at load 19); 500 ms still catches a scan of the whole megabyte or a
      // pattern that backtracks.
      const started = process.cpuUsage();
      const c = classify({ responseCode: 450, text });
      const used = process.cpuUsage(started);
      expect((used.user + used.system) / 1000, text.slice(0, 20)).toBeLessThan(500);
      expect(c.outcome).not.toBe('accepted');
    }
  });

  it('reads the reply through control characters and CR/LF continuations', () => {
    const c = classify({ responseCode: 550, text: '550-5.1.1 user\r\n550-5.1.1 \u0000unknown\t\u0007here' });
    expect(c).toMatchObject({ category: 'userunknown', hard: true });
  });

  it('classifies a typical reply in microseconds', () => {
    const input = { responseCode: 550, text: '550 5.7.1 Message rejected due to content restrictions' };
    classify(input);
    const started = performance.now();
    for (let i = 0; i < 2000; i++) classify(input);
    expect((performance.now() - started) / 2000).toBeLessThan(0.5);
  });
});

describe('createClassifier', () => {
  const rule = (id: string, extra: Partial<ClassificationRule> = {}): ClassificationRule => ({
    id,
    when: { responseCode: [450, 550], text: /acme says no/i },
    then: { category: 'blocked' },
    ...extra,
  });

  it('tries user rules before the defaults', () => {
    const classifier = createClassifier({ rules: [{ id: 'acme-unknown-is-soft', when: { enhancedStatus: '5.1.1' }, then: { outcome: 'transient', category: 'onhold' } }] });
    expect(classifier.classify({ responseCode: 550, text: '550 5.1.1 user unknown' })).toMatchObject({ outcome: 'transient', category: 'onhold', hard: false, rule: 'acme-unknown-is-soft' });
    // Anything else still goes through the defaults.
    expect(classifier.classify({ responseCode: 550, text: '550 5.2.1 account disabled' }).category).toBe('suspend');
    expect(classifier.rules.length).toBe(defaultClassificationRules.length + 1);
    expect(classifier.rules[0]?.id).toBe('acme-unknown-is-soft');
  });

  it('lets a user rule set hard, outcome and a default wait', () => {
    const classifier = createClassifier({ rules: [rule('acme', { then: { outcome: 'throttled', category: 'ratelimited', retryAfterMs: 1234 } })] });
    expect(classifier.classify({ responseCode: 550, text: '550 ACME says no' })).toMatchObject({ outcome: 'throttled', retryAfterMs: 1234, rule: 'acme' });
    const hard = createClassifier({ rules: [rule('acme', { then: { category: 'blocked', hard: true } })] });
    expect(hard.classify({ responseCode: 550, text: '550 ACME says no' }).hard).toBe(true);
  });

  it('never reports hard for a retried outcome, even when a rule says hard', () => {
    const classifier = createClassifier({ rules: [rule('acme', { then: { category: 'userunknown', hard: true } })] });
    expect(classifier.classify({ responseCode: 450, text: '450 ACME says no' })).toMatchObject({ outcome: 'transient', hard: false });
    expect(classifier.classify({ responseCode: 550, text: '550 ACME says no' })).toMatchObject({ outcome: 'permanent', hard: true });
  });

  it('replaces the default table with replaceDefaults', () => {
    const classifier = createClassifier({ rules: [rule('only')], replaceDefaults: true });
    expect(classifier.rules.map((r) => r.id)).toEqual(['only']);
    expect(classifier.classify({ responseCode: 550, text: '550 ACME says no' }).rule).toBe('only');
    expect(classifier.classify({ responseCode: 550, text: '550 5.1.1 user unknown' })).toMatchObject({ rule: 'default', category: 'undefined', outcome: 'permanent', hard: false });
    expect(createClassifier({ replaceDefaults: true }).classify({ responseCode: 421 })).toMatchObject({ outcome: 'transient', rule: 'default' });
  });

  it('matches every field of a condition together', () => {
    const classifier = createClassifier({
      rules: [{ id: 'all', when: { responseCode: [451, 452], enhancedStatus: /^4\.3\./, text: /queue/, errorCode: ['EMESSAGE'] }, then: { category: 'systemfull' } }],
      replaceDefaults: true,
    });
    expect(classifier.classify({ responseCode: 451, text: '451 4.3.0 queue full', errorCode: 'EMESSAGE' }).rule).toBe('all');
    expect(classifier.classify({ responseCode: 450, text: '450 4.3.0 queue full', errorCode: 'EMESSAGE' }).rule).toBe('default');
    expect(classifier.classify({ responseCode: 451, text: '451 4.4.0 queue full', errorCode: 'EMESSAGE' }).rule).toBe('default');
    expect(classifier.classify({ responseCode: 451, text: '451 4.3.0 disk full', errorCode: 'EMESSAGE' }).rule).toBe('default');
    expect(classifier.classify({ responseCode: 451, text: '451 4.3.0 queue full', errorCode: 'EENVELOPE' }).rule).toBe('default');
  });

  it('treats a missing status as the empty string for enhancedStatus conditions', () => {
    const classifier = createClassifier({ rules: [{ id: 'no-status', when: { enhancedStatus: /^$/ }, then: { category: 'onhold' } }], replaceDefaults: true });
    expect(classifier.classify({ responseCode: 450, text: '450 busy' }).rule).toBe('no-status');
    expect(classifier.classify({ responseCode: 450, text: '450 4.2.0 busy' }).rule).toBe('default');
  });

  it('does not call a code predicate when there is no code, and skips a predicate that throws', () => {
    let calls = 0;
    const classifier = createClassifier({
      rules: [
        {
          id: 'throws',
          when: {
            responseCode: () => {
              calls++;
              throw new Error('bad predicate');
            },
          },
          then: { category: 'blocked' },
        },
      ],
    });
    expect(classifier.classify({ text: 'nothing' }).rule).toBe('default');
    expect(calls).toBe(0);
    expect(classifier.classify({ responseCode: 550, text: '550 5.1.1 x' }).rule).toBe('x.1.1-user-unknown');
    expect(calls).toBe(1);
  });

  it('gives the same answer every time for a global RegExp', () => {
    const classifier = createClassifier({ rules: [{ id: 'g', when: { text: /acme/g }, then: { category: 'blocked' } }] });
    for (let i = 0; i < 5; i++) expect(classifier.classify({ responseCode: 550, text: '550 acme' }).rule).toBe('g');
  });

  it('is not affected by later changes to the rules it was given', () => {
    const mine = { id: 'mutable', when: { responseCode: 550 as number }, then: { category: 'blocked' as const } };
    const classifier = createClassifier({ rules: [mine], replaceDefaults: true });
    mine.when.responseCode = 421;
    expect(classifier.classify({ responseCode: 550 }).rule).toBe('mutable');
    expect(Object.isFrozen(classifier.rules)).toBe(true);
    expect(Object.isFrozen(classifier.rules[0])).toBe(true);
  });

  const bad: readonly [string, unknown, string][] = [
    ['options not an object', 'rules', 'options'],
    ['options with an unknown key', { rule: [] }, 'options.rule'],
    ['rules not an array', { rules: {} }, 'rules'],
    ['replaceDefaults not a boolean', { replaceDefaults: 'yes' }, 'replaceDefaults'],
    ['a rule that is not an object', { rules: [null] }, 'rules[0]'],
    ['a rule without id', { rules: [{ when: {}, then: { category: 'blocked' } }] }, 'rules[0].id'],
    ['a rule with an empty id', { rules: [{ id: ' ', when: {}, then: { category: 'blocked' } }] }, 'rules[0].id'],
    ['duplicate ids', { rules: [rule('a'), rule('a')] }, 'rules[1].id'],
    ['an id used by a default rule', { rules: [rule('x.1.1-user-unknown')] }, 'rules[0].id'],
    ['an unknown condition key', { rules: [{ id: 'a', when: { textt: /x/ }, then: { category: 'blocked' } }] }, 'rules[0].when.textt'],
    ['an unknown effect key', { rules: [{ id: 'a', when: {}, then: { category: 'blocked', retry: 1 } }] }, 'rules[0].then.retry'],
    ['a missing when', { rules: [{ id: 'a', then: { category: 'blocked' } }] }, 'rules[0].when'],
    ['a bad category', { rules: [{ id: 'a', when: {}, then: { category: 'hardbounce' } }] }, 'rules[0].then.category'],
    ['a bad outcome', { rules: [{ id: 'a', when: {}, then: { category: 'blocked', outcome: 'retry' } }] }, 'rules[0].then.outcome'],
    ['a non-boolean hard', { rules: [{ id: 'a', when: {}, then: { category: 'blocked', hard: 1 } }] }, 'rules[0].then.hard'],
    ['a negative retryAfterMs', { rules: [{ id: 'a', when: {}, then: { category: 'blocked', retryAfterMs: -1 } }] }, 'rules[0].then.retryAfterMs'],
    ['a NaN retryAfterMs', { rules: [{ id: 'a', when: {}, then: { category: 'blocked', retryAfterMs: Number.NaN } }] }, 'rules[0].then.retryAfterMs'],
    ['a fractional reply code', { rules: [{ id: 'a', when: { responseCode: 550.5 }, then: { category: 'blocked' } }] }, 'rules[0].when.responseCode'],
    ['an empty code array', { rules: [{ id: 'a', when: { responseCode: [] }, then: { category: 'blocked' } }] }, 'rules[0].when.responseCode'],
    ['a malformed enhanced status', { rules: [{ id: 'a', when: { enhancedStatus: '5.1' }, then: { category: 'blocked' } }] }, 'rules[0].when.enhancedStatus'],
    ['a string text condition', { rules: [{ id: 'a', when: { text: 'user unknown' }, then: { category: 'blocked' } }] }, 'rules[0].when.text'],
    ['an empty error code', { rules: [{ id: 'a', when: { errorCode: '' }, then: { category: 'blocked' } }] }, 'rules[0].when.errorCode'],
  ];

  it.each(bad)('rejects %s with MAILPUSH_ERR_CONFIG naming the option', (_name, options, option) => {
    let caught: unknown;
    try {
      createClassifier(options as never);
    } catch (err) {
      caught = err;
    }
    expect(isMailError(caught)).toBe(true);
    expect(caught).toMatchObject({ code: MailErrorCode.CONFIG, option });
    expect((caught as Error).message).toContain(`\`${option}\``);
  });
});

describe('default table', () => {
  it('is frozen, with unique ids and a description on every rule', () => {
    expect(Object.isFrozen(defaultClassificationRules)).toBe(true);
    const ids = defaultClassificationRules.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of defaultClassificationRules) {
      expect(Object.isFrozen(r) && Object.isFrozen(r.when) && Object.isFrozen(r.then), r.id).toBe(true);
      expect(r.description, r.id).toBeTruthy();
    }
  });

  it('backs classify() and defaultClassifier', () => {
    expect(defaultClassifier.rules).toEqual(defaultClassificationRules);
    const input = { responseCode: 550, text: '550 5.1.1 x' };
    expect(classify(input)).toEqual(defaultClassifier.classify(input));
  });

  it('has hard categories for address problems only', () => {
    expect([...HARD_CATEGORIES].sort()).toEqual(['hasmoved', 'hostunknown', 'notaccept', 'userunknown']);
  });
});

describe('classifiedError', () => {
  it('builds a PERMANENT error from a 550 5.1.1 with every field', () => {
    const cause = new Error('Can\u2019t send mail');
    const err = classifiedError(
      { responseCode: 550, text: '550 5.1.1 <a@b.com>: user unknown\r\n' },
      { transport: 'smtp', recipient: 'a@b.com', cause },
    );
    expect(isMailError(err)).toBe(true);
    expect(err.message).toBe('550 5.1.1 <a@b.com>: user unknown');
    expect(err).toMatchObject({
      code: MailErrorCode.PERMANENT,
      retryable: false,
      responseCode: 550,
      enhancedStatus: '5.1.1',
      response: '550 5.1.1 <a@b.com>: user unknown\r\n',
      category: 'userunknown',
      recipient: 'a@b.com',
      transport: 'smtp',
    });
    expect(err.cause).toBe(cause);
    expect(err.retryAfterMs).toBeUndefined();
  });

  it('maps each outcome to its error code', () => {
    const cases: [ClassifyInput, string, boolean][] = [
      [{ responseCode: 421, text: '421 4.7.28 unusual rate of unsolicited mail' }, MailErrorCode.THROTTLED, true],
      [{ responseCode: 451, text: '451 4.3.0 local error' }, MailErrorCode.TRANSIENT, true],
      [{ errorCode: 'ECONNREFUSED', text: 'connect ECONNREFUSED 127.0.0.1:25' }, MailErrorCode.CONNECTION, true],
      [{ errorCode: 'ECONNECTION', text: 'Connection closed unexpectedly' }, MailErrorCode.CONNECTION, true],
      [{ errorCode: 'ETIMEDOUT', text: 'Connection timeout' }, MailErrorCode.TIMEOUT, true],
      [{ errorCode: 'EAUTH', responseCode: 535, text: '535 5.7.8 Authentication credentials invalid' }, MailErrorCode.AUTH, false],
      [{ errorCode: 'EAUTH', text: 'Missing credentials' }, MailErrorCode.AUTH, false],
      [{ responseCode: 401, text: 'Unauthorized' }, MailErrorCode.AUTH, false],
      [{ errorCode: 'ETLS', text: 'Error initiating TLS' }, MailErrorCode.TLS, false],
      [{ responseCode: 530, text: '530 5.7.0 Must issue a STARTTLS command first' }, MailErrorCode.TLS, false],
      [{ responseCode: 550, text: '550 5.7.26 unauthenticated mail' }, MailErrorCode.PERMANENT, false],
      [{ errorCode: 'SendingPausedException', responseCode: 400, text: 'paused' }, MailErrorCode.TRANSPORT_PAUSED, true],
      [{ responseCode: 250, text: '250 ok' }, MailErrorCode.INTERNAL, false],
    ];
    for (const [input, code, retryable] of cases) {
      const err = classifiedError(input);
      expect({ code: err.code, retryable: err.retryable }, JSON.stringify(input)).toEqual({ code, retryable });
    }
  });

  it('carries the wait hint and category of a throttle', () => {
    const err = classifiedError({ responseCode: 421, text: '421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume or user complaints' });
    expect(err).toMatchObject({ code: MailErrorCode.THROTTLED, retryAfterMs: 4 * HOUR, category: 'ratelimited', retryable: true });
  });

  it('prefixes the reply code when the text lacks it', () => {
    expect(classifiedError({ responseCode: 429, text: 'Too Many Requests' }).message).toBe('429 Too Many Requests');
  });

  it('falls back to the cause message, with the error code', () => {
    const err = classifiedError({ errorCode: 'ECONNREFUSED' }, { cause: new Error('connect ECONNREFUSED 127.0.0.1:2525') });
    expect(err.message).toBe('connect ECONNREFUSED 127.0.0.1:2525');
    expect(classifiedError({ errorCode: 'ESOCKET' }, { cause: new Error('socket hang up') }).message).toBe('socket hang up (ESOCKET)');
    expect(classifiedError({}).message.length).toBeGreaterThan(0);
  });

  it('uses an explicit message and a custom classifier', () => {
    const classifier = createClassifier({ rules: [{ id: 'all-soft', when: {}, then: { outcome: 'transient', category: 'onhold' } }], replaceDefaults: true });
    const err = classifiedError({ responseCode: 550, text: '550 5.1.1 x' }, { classifier, message: 'RCPT TO\r\n<a@b.com> refused' });
    expect(err).toMatchObject({ code: MailErrorCode.TRANSIENT, retryable: true, message: 'RCPT TO <a@b.com> refused' });
  });

  it('keeps a huge hostile response to a bounded message and field', () => {
    const text = `550 5.1.1 ${'x\r\n'.repeat(1 << 19)}`;
    const started = performance.now();
    const err = classifiedError({ responseCode: 550, text });
    expect(performance.now() - started).toBeLessThan(100);
    expect(err.message.length).toBeLessThanOrEqual(500);
    expect(err.message).not.toMatch(/[\r\n]/);
    expect(err.response!.length).toBeLessThanOrEqual(8192);
  });

  it('never throws on garbage input or options', () => {
    for (const input of [undefined, null, 7, { responseCode: Number.NaN, text: {} }]) {
      for (const options of [undefined, null, 'x', { cause: 1, transport: 5 }]) {
        expect(isMailError(classifiedError(input as never, options as never))).toBe(true);
      }
    }
  });
});
