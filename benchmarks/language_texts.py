"""Short news-style texts in seven languages, written for the tokenizer benchmark (no downloads, no licences).

Each language has a few sentences with names, numbers, dates, punctuation and the language's own spelling habits
(French and Italian elisions, German compounds, Spanish inverted marks, Chinese and Japanese without spaces).
"""

TEXTS: dict[str, list[str]] = {
    "en": [
        "Angela Merkel met Emmanuel Macron in Berlin on Tuesday, 3 March 2026, to discuss the EU's budget.",
        "Apple Inc. said its revenue rose 4.5% to $94.9 billion; analysts at J.P. Morgan weren't surprised.",
        "\"We're not done yet,\" said Dr. Smith (the lead author) at 10:30 a.m. in New York.",
        "The U.K. government's plan, announced via https://www.gov.uk/news, costs £2.3bn over 5 years.",
    ],
    "de": [
        "Bundeskanzlerin Angela Merkel traf am Dienstag den französischen Präsidenten in Berlin.",
        "Die Donaudampfschifffahrtsgesellschaft meldete für 2025 einen Umsatz von 3,4 Mio. Euro.",
        "„Wir sind noch nicht fertig“, sagte Dr. Müller (SPD) am 3. März um 10:30 Uhr in München.",
        "Der Bundesgerichtshof in Karlsruhe hat die Klage der Verbraucherzentrale abgewiesen, z. B. wegen Fristen.",
    ],
    "fr": [
        "Le président de la République s'est rendu à l'Élysée mardi, après qu'il eut rencontré l'ambassadeur.",
        "L'OTAN a annoncé qu'aujourd'hui l'alliance compte 32 membres ; c'est l'avis de M. Dupont.",
        "« Nous n'avons pas fini », a déclaré Mme Lefèvre à Paris, le 3 mars 2026 à 10 h 30.",
        "Jusqu'à présent, l'entreprise d'Orléans n'a versé que 2,5 millions d'euros aux prud'hommes.",
    ],
    "it": [
        "Il presidente della Repubblica è arrivato a Roma dopo l'incontro con l'ambasciatore dell'Unione europea.",
        "L'ISTAT ha comunicato che nell'ultimo trimestre il PIL dell'Italia è cresciuto dello 0,4%.",
        "«Non abbiamo ancora finito», ha detto il sig. Rossi a Milano il 3 marzo 2026, alle 10:30.",
        "C'è un'altra questione: quest'anno la FIAT ha venduto 1,2 milioni d'auto all'estero.",
    ],
    "es": [
        "El presidente del Gobierno se reunió el martes en Madrid con la canciller alemana.",
        "¿Quién ganará las elecciones? ¡Nadie lo sabe todavía!, dijo el Sr. García en Bogotá.",
        "La empresa Telefónica anunció el 3 de marzo de 2026 unos beneficios de 2,3 millones de euros.",
        "«No hemos terminado», declaró la Dra. López (PSOE) a las 10:30 en la Universidad de Salamanca.",
    ],
    "zh": [
        "国家主席习近平周二在北京会见了法国总统马克龙。",
        "据新华社报道，2026年3月3日，中国人民银行宣布下调存款准备金率0.5个百分点。",
        "阿里巴巴集团在杭州发布了新的人工智能模型，股价上涨了4.5%。",
        "“我们还没有完成，”张教授在上海交通大学说。",
    ],
    "ja": [
        "岸田首相は火曜日に東京でフランスのマクロン大統領と会談した。",
        "トヨタ自動車は2026年3月3日、営業利益が4.5％増えたと発表しました。",
        "「まだ終わっていません」と京都大学の山田教授は述べた。",
        "日本銀行は金融政策決定会合で、短期金利を0.25％に引き上げることを決めた。",
    ],
}
"""Sentences per language code."""
