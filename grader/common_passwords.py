"""Passwords too common to allow: the most frequent of at least eight characters in public
breach corpora (the shorter ones are refused for their length anyway), compared without case.

Kept short on purpose: it stops the guesses an attacker tries first, within the per-account
sign-in limit; length does the rest.
"""

from __future__ import annotations

_LIST = """
12345678 123456789 1234567890 12345678910 123123123 123456123 987654321 0987654321
11111111 111111111 1111111111 00000000 000000000 0000000000 22222222 55555555 66666666
88888888 99999999 12121212 11223344 12341234 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx
qwertyuiop qwerty123 qwerty1234 qwerty12 qwertyui asdfghjkl asdfasdf zxcvbnm123 zaq12wsx
zaq1zaq1 q1w2e3r4 q1w2e3r4t5 a1b2c3d4 abcd1234 abc12345 abcdefgh abcdefg1 aaaaaaaa
password password1 password12 password123 password1234 passw0rd p@ssword p@ssw0rd pa$$word
password! password01 mypassword iloveyou iloveyou1 iloveyou2 princess princess1 sunshine
sunshine1 football football1 baseball basketball superman batman123 starwars trustno1
welcome1 welcome123 welcome! letmein1 letmein123 changeme changeme1 changeme123 secret123
whatever dragon123 monkey123 michelle jennifer jessica1 charlie1 computer internet
security 1password master123 shadow123 freedom1 liverpool chelsea1 arsenal1 manchester
michael1 jordan23 elephant butterfly chocolate cookie123 pokemon1 naruto123 minecraft
fortnite 123qweasd qweasdzxc 1234qwer qwer1234 asdf1234 zxcv1234 987654321a 123456789a
a123456789 12345678a 1234567a aa123456 aa12345678 abc123456 qazwsxedc qazwsx123
administrator admin123 admin1234 adminadmin rootroot root1234 test1234 testtest test12345
guest123 user1234 student1 student123 teacher1 school123 pytorch1 pytorch123 tensorflow
grader123 course123 learning deeplearning machinelearning
"""
COMMON_PASSWORDS = frozenset(_LIST.split())


def is_common(password: str) -> bool:
    """Whether ``password`` is on the list (case ignored) or is one character repeated."""
    return password.lower() in COMMON_PASSWORDS or len(set(password)) <= 2
