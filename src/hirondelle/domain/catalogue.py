"""The catalogue of the API 9.0 methods: name, path, parameters (mandatory or not, with the
manual's help), the table that explains the answer's status, and an example call.

It is data, with no I/O, so that both sides read it: the API 9.0 reference page and the API
console (web/) are rendered from it, and a test holds it to the methods `api/v9` serves
(tests/api/test_catalogue.py). Sections (§) and annexes are those of the manual,
`allmysms-http-api-9.0.txt`; methods marked "beyond the manual" are Hirondelle's own.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

PREFIX = "/http/9.0/"


@dataclass(frozen=True)
class Parameter:
    name: str
    help: str
    mandatory: bool = False
    #: a value for the example call (and the console's first fill)
    example: str = ""


@dataclass(frozen=True)
class MethodDoc:
    name: str
    section: str
    summary: str
    parameters: tuple[Parameter, ...]
    #: where the answer's `status` values are explained; "" when errors are `{"error": ...}`
    statuses: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        if not self.path:
            object.__setattr__(self, "path", PREFIX + self.name)

    @property
    def mandatory(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.mandatory)

    def curl(self, base_url: str) -> str:
        """A curl command that calls the method with the example values (POST, form-encoded)."""
        lines = [f"curl -sS {base_url.rstrip('/')}{self.path}"]
        for parameter in self.parameters:
            if parameter.mandatory or parameter.example:
                value = parameter.example or parameter.name.upper()
                lines.append(f"--data-urlencode {shlex.quote(f'{parameter.name}={value}')}")
        return " \\\n  ".join(lines)


CREDENTIALS = (
    Parameter("login", "Your customer login", True, "LOGIN"),
    Parameter("apiKey", "Your API key (customer area, API page)", True, "API_KEY"),
)
SUBACCOUNT = Parameter("subaccount", "Login of the sub-account to act for (yours by default)")
RETURNFORMAT = Parameter("returnformat", "json (the default) or xml: the answer's format")
ANSWERING = (SUBACCOUNT, RETURNFORMAT)

SMS_FEED = '{"DATA": {"MESSAGE": "Hello", "SMS": [{"MOBILEPHONE": "0611111111"}]}}'
SMS_DATA = Parameter(
    "smsData",
    "The XML or JSON feed of the message and its recipients (§6.2: MESSAGE, SMS with "
    "MOBILEPHONE and PARAM_N, TPOA, DATE, CAMPAIGN_NAME, DYNAMIC, CLIMSGID); its format is the "
    "answer's unless returnformat says otherwise",
    True,
    SMS_FEED,
)
CAMP_ID = Parameter("campId", "The campaign id returned by sendSms", True, "CAMPAIGN_ID")
SMS_IDS = Parameter(
    "smsIds", "The smsId(s) returned by sendSms, separated by commas or semicolons", True, "SMS_ID"
)
LIST_FEED = '{"DATA": {"LISTNAME": "clients", "CONTACTS": [{"MOBILEPHONE": "0611111111"}]}}'
ACCOUNT_FEED = '{"DATA": {"LASTNAME": "Martin", "EMAIL": "martin@example.com"}}'
PHONE_NUMBER = Parameter(
    "phoneNumber", "The number(s), separated by commas or semicolons", True, "0611111111"
)
SEND_STATUSES = "Annex 5 (statuses after sending)"


def _method(
    name: str,
    section: str,
    summary: str,
    *parameters: Parameter,
    statuses: str = "",
    path: str = "",
) -> MethodDoc:
    return MethodDoc(name, section, summary, (*CREDENTIALS, *parameters), statuses, path)


CATALOGUE: tuple[MethodDoc, ...] = (
    _method(
        "directSend",
        "§5",
        "The simplified send: plain parameters, no feed (also served at /http/9.0/directSend).",
        Parameter("message", "The text of the SMS", True, "Hello STOP au 36180"),
        Parameter("mobile", "The number(s), separated by semicolons", True, "0611111111"),
        Parameter("tpoa", "The sender: 3 to 11 letters, digits or spaces, first a letter"),
        Parameter("date", "YYYY-MM-DD HH:MM:SS to send later (your time zone)"),
        Parameter("campaign", "A name for the campaign"),
        SUBACCOUNT,
        statuses=SEND_STATUSES,
        path=PREFIX,
    ),
    _method("sendSms", "§6", "Send an SMS campaign.", SMS_DATA, *ANSWERING, statuses=SEND_STATUSES),
    _method(
        "simulateCampaign",
        "§7",
        "Count the contacts, SMS and credits a campaign would take, and its invalid numbers, "
        "without sending it.",
        SMS_DATA,
        *ANSWERING,
        statuses=SEND_STATUSES,
    ),
    _method(
        "getAcks",
        "§8",
        "The delivery reports of a campaign.",
        CAMP_ID,
        *ANSWERING,
        statuses="Annex 6 (delivery report statuses)",
    ),
    _method(
        "getAckBySmsId",
        "§9",
        "The delivery reports of given SMS.",
        SMS_IDS,
        *ANSWERING,
        statuses="Annex 6 (delivery report statuses)",
    ),
    _method(
        "getPulls",
        "§10",
        "The replies not read yet, each handed out once, newest first.",
        Parameter("limit", "How many replies at most (default 1000)"),
        *ANSWERING,
    ),
    _method("getPull", "§11", "The replies to a campaign.", CAMP_ID, *ANSWERING),
    _method("getPullBySmsId", "§12", "The replies to given SMS.", SMS_IDS, *ANSWERING),
    _method("getInfo", "§13", "The account: status, credits, names, email.", *ANSWERING),
    _method("getBlacklist", "§14", "The numbers that opted out (STOP).", *ANSWERING),
    _method(
        "addToBlacklist",
        "beyond the manual",
        "Put numbers on the blacklist: no SMS goes to them.",
        PHONE_NUMBER,
        *ANSWERING,
    ),
    _method(
        "removeFromBlacklist",
        "beyond the manual",
        "Take numbers off the blacklist.",
        PHONE_NUMBER,
        *ANSWERING,
    ),
    _method(
        "deleteCampaign",
        "§15",
        "Delete a scheduled campaign before it starts (its credits come back).",
        Parameter("campId", "The id of the scheduled campaign", True, "CAMPAIGN_ID"),
        *ANSWERING,
        statuses="Annex 7 (campaign deletion statuses)",
    ),
    _method(
        "createSubAccount",
        "§16",
        "Create a sub-account.",
        Parameter(
            "accountData",
            "XML or JSON feed of the account: LOGIN, PASSWORD, LASTNAME, FIRSTNAME (these four "
            "mandatory), EMAIL, ...; appendices 8 and 9",
            True,
            '{"DATA": {"LOGIN": "shop2", "PASSWORD": "s3cret-pass", "LASTNAME": "Martin", '
            '"FIRSTNAME": "Anne", "EMAIL": "shop2@example.com"}}',
        ),
        RETURNFORMAT,
        statuses="Annex 10 (sub-account creation and change)",
    ),
    _method(
        "updateSubAccount",
        "§17",
        "Change a sub-account's details.",
        Parameter("accountData", "XML or JSON feed of the fields to change", True, ACCOUNT_FEED),
        Parameter("subaccount", "Login of the sub-account to change", True, "kid"),
        RETURNFORMAT,
        statuses="Annex 10 (sub-account creation and change)",
    ),
    _method(
        "getSubAccounts",
        "§18",
        "Your sub-accounts and their details.",
        *ANSWERING,
        statuses="§18 (0: no sub-account)",
    ),
    _method(
        "manageSubAccountCredits",
        "§19",
        "Move credits to a sub-account (or back, with a negative number).",
        Parameter("subaccount", "Login of the sub-account", True, "kid"),
        Parameter("credits", "Credits to add (negative: to take back)", True, "10"),
        RETURNFORMAT,
        statuses="§19's table (0 to 5; OK when done)",
    ),
    _method(
        "deleteSubAccount",
        "§20",
        "Delete a sub-account.",
        Parameter("loginToDelete", "Login of the sub-account to delete", True, "kid"),
        RETURNFORMAT,
        statuses="§20 (1: deleted, 0: error)",
    ),
    _method(
        "createList",
        "§21",
        "Create a contact list.",
        Parameter(
            "listData",
            "XML or JSON feed: LISTNAME, LOCKED, STRUCTURE of FIELDs (FIELDNAME, FILTER, "
            "MAILING); appendices 11 and 12",
            True,
            '{"DATA": {"LISTNAME": "clients"}}',
        ),
        RETURNFORMAT,
        statuses="§21 (1: created, 0: error)",
    ),
    _method(
        "populateList",
        "§22",
        "Add contacts to a list.",
        Parameter(
            "populateData",
            "XML or JSON feed: LISTNAME and CONTACTS, each with MOBILEPHONE and the list's "
            "fields; appendices 13 and 14",
            True,
            LIST_FEED,
        ),
        RETURNFORMAT,
        statuses="Annex 15 (contact insertion)",
    ),
    _method(
        "deleteContacts",
        "§23",
        "Remove contacts from a list.",
        Parameter(
            "deleteData",
            "XML or JSON feed: LISTNAME and the CONTACTS to remove; appendices 16 and 17",
            True,
            LIST_FEED,
        ),
        RETURNFORMAT,
        statuses="Annex 18 (contact removal)",
    ),
    _method(
        "deleteList",
        "§24",
        "Delete a contact list.",
        Parameter("listName", "Name of the list to delete", True, "clients"),
        *ANSWERING,
        statuses="§24 (1: deleted, 0: error)",
    ),
    _method("getLists", "§25", "Your contact lists.", *ANSWERING),
    _method(
        "getContacts",
        "§26",
        "The contacts of a list.",
        Parameter("listName", "Name of the list", True, "clients"),
        *ANSWERING,
    ),
    _method(
        "getCreditsByCountryIsoCode",
        "§27",
        "The credits one SMS part costs to a country.",
        Parameter("countryIsoCode", "ISO code of the country (FR, DE, UK...)", True, "FR"),
        *ANSWERING,
    ),
    _method(
        "shortenUrl",
        "§28",
        "A short link to a URL (clicks are counted).",
        Parameter("url", "The http or https URL to shorten", True, "https://example.com/offer"),
        *ANSWERING,
    ),
    _method(
        "sendEmail",
        "§29",
        "Send an email campaign.",
        Parameter(
            "emailData",
            "XML or JSON feed: FROM, TO, SUBJECT, HTML or MAILTEXT, ALIAS, REPLY_TO, DATE, "
            "CAMPAIGN_NAME; annexes 19 and 20",
            True,
            '{"DATA": {"FROM": "shop@example.com", "TO": "client@example.com", '
            '"SUBJECT": "Hello", "MAILTEXT": "Hello"}}',
        ),
        *ANSWERING,
        statuses="Annex 21 (statuses after sending an email)",
    ),
    _method(
        "setWebhooks",
        "beyond the manual",
        "Set the URLs receipts and replies are pushed to, and the signing secret (give at least "
        "one; an empty value clears it).",
        Parameter("receiptUrl", "URL called for each delivery report", False, ""),
        Parameter("replyUrl", "URL called for each reply", False, "https://example.com/replies"),
        Parameter("secret", "The secret webhook calls are signed with ('new' to draw one)"),
        *ANSWERING,
    ),
    _method("getWebhooks", "beyond the manual", "The webhook URLs set.", *ANSWERING),
)

_BY_NAME = {doc.name.lower(): doc for doc in CATALOGUE}


def by_name(name: str) -> MethodDoc:
    """The entry of a method, its name in any case (KeyError when unknown)."""
    return _BY_NAME[name.lower()]


#: A method whose calls the console can also make as a simulation (nothing sent, no credit
#: spent): the method called instead, with the same parameters.
SIMULATIONS = {"sendSms": "simulateCampaign"}


@dataclass(frozen=True)
class RestEndpoint:
    """An operation of the REST API (its OpenAPI document at /openapi.json says the rest; a
    test holds this list to it)."""

    key: str
    verb: str
    path: str
    summary: str
    path_params: tuple[Parameter, ...] = ()
    query_params: tuple[Parameter, ...] = ()
    #: an example JSON body; "" when the operation takes none
    body: str = ""


CAMPAIGN_ID = Parameter("campaignId", "The campaign id of a send answer", True, "CAMPAIGN_ID")
REST_SEND_BODY = '{"to": "+33611111111", "text": "Hello STOP au 36180", "simulate": false}'
REST_BULK_BODY = (
    '{"to": ["+33611111111", {"mobilePhone": "0622222222", "PARAM_1": "Ann"}], '
    '"text": "Hello #param_1# STOP au 36180"}'
)

REST_ENDPOINTS: tuple[RestEndpoint, ...] = (
    RestEndpoint("rest-account", "GET", "/account", "Balance and details of the account"),
    RestEndpoint("rest-send", "POST", "/sms/send/", "Send one SMS", body=REST_SEND_BODY),
    RestEndpoint(
        "rest-bulk",
        "POST",
        "/sms/send/bulk/",
        "Send one message to many numbers",
        body=REST_BULK_BODY,
    ),
    RestEndpoint(
        "rest-campaign-reports",
        "GET",
        "/report/campaign/{campaignId}",
        "Delivery reports of a campaign",
        path_params=(CAMPAIGN_ID,),
    ),
    RestEndpoint(
        "rest-sms-reports",
        "GET",
        "/report/sms/{smsId}",
        "Delivery report of messages",
        path_params=(Parameter("smsId", "The smsId(s), separated by commas", True, "SMS_ID"),),
    ),
    RestEndpoint(
        "rest-replies",
        "GET",
        "/replies",
        "Replies not read before (each is handed out once)",
        query_params=(Parameter("limit", "How many replies at most (default 1000)"),),
    ),
    RestEndpoint(
        "rest-delete-campaign",
        "DELETE",
        "/campaign/{campaignId}",
        "Delete a scheduled campaign",
        path_params=(CAMPAIGN_ID,),
    ),
    RestEndpoint(
        "rest-allowed-ips",
        "GET",
        "/account/allowed-ips",
        "The addresses allowed to use the account",
    ),
    RestEndpoint(
        "rest-set-allowed-ips",
        "PUT",
        "/account/allowed-ips",
        "Replace the addresses allowed to use the account (it must allow the caller's)",
        body='{"allowedIps": ["203.0.113.7", "198.51.100.0/24"]}',
    ),
)

_REST_BY_KEY = {endpoint.key: endpoint for endpoint in REST_ENDPOINTS}


def rest_endpoint(key: str) -> RestEndpoint:
    """The REST operation `key` (KeyError when unknown)."""
    return _REST_BY_KEY[key]
