"""Valid synthetic identities from a seeded random source (never real people's numbers).

Resident ID numbers carry a real area code, a birth date and a correct ISO 7064 MOD 11-2
check digit; credit codes a correct GB 32100 check character; bank cards a UnionPay-style
``62`` prefix and a Luhn check digit. Same seed, same identities.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from faker import Faker
from stdnum import luhn
from stdnum.cn import ric, uscc

#: County-level area codes (GB/T 2260) in use for every birth year from 1950 on: Beijing
#: Dongcheng, Chaoyang, Haidian; Shanghai Huangpu, Xuhui. (python-stdnum checks the code
#: against the counties that existed in the birth year.)
AREA_CODES = ("110101", "110105", "110108", "310101", "310104")
PLACES = {"110101": ("北京市", "东城区"), "110105": ("北京市", "朝阳区"),
          "110108": ("北京市", "海淀区"), "310101": ("上海市", "黄浦区"),
          "310104": ("上海市", "徐汇区")}


def place_of(number: str, *, enterprise: bool) -> tuple[str, str]:
    """(province, district) of a resident ID (area code first) or a credit code (area code
    after the two registration characters) made by this factory."""
    return PLACES.get(number[2:8] if enterprise else number[:6], ("", ""))
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


class IdentityFactory:
    def __init__(self, seed: int) -> None:
        self.faker = Faker("zh_CN")
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Start a new reproducible stream (cheap: the Faker instance is kept)."""
        self.rng = random.Random(seed)
        self.faker.seed_instance(seed)

    def resident_id(self, *, born_between: tuple[date, date]) -> str:
        start, end = born_between
        birth = start + timedelta(days=self.rng.randrange((end - start).days + 1))
        body = (self.rng.choice(AREA_CODES) + birth.strftime("%Y%m%d")
                + f"{self.rng.randrange(1000):03d}")
        return body + ric.calc_check_digit(body + "0")  # the function skips the last place

    def credit_code(self) -> str:
        body = ("91" + self.rng.choice(AREA_CODES)
                + "".join(self.rng.choice(_USCC_ALPHABET) for _ in range(9)))
        return body + uscc.calc_check_digit(body)

    def phone(self) -> str:
        return self.rng.choice(("138", "139", "150", "186", "177", "199")) + "".join(
            str(self.rng.randrange(10)) for _ in range(8))

    def bank_card(self) -> str:
        body = "62" + "".join(str(self.rng.randrange(10)) for _ in range(15))
        return body + luhn.calc_check_digit(body)

    def person_name(self) -> str:
        return self.faker.name()

    def company_name(self) -> str:
        return self.faker.company()

    def address(self) -> str:
        return self.faker.address().split(" ")[0]

    def device_id(self) -> str:
        return "DEV-" + "".join(self.rng.choice("0123456789abcdef") for _ in range(16))
