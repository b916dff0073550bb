"""Static lists of Wikipedia prefixes: language editions, interwiki prefixes, English namespaces.

Used to tell `[[fr:Paris]]` (interlanguage), `[[wikt:word]]` (interwiki), `[[Help:Link]]`
(another namespace) from an article whose title has a colon (`[[Eve: Last Days]]`). A dump's own
`<siteinfo><namespaces>` header replaces `ENGLISH_NAMESPACES` when there is one.
"""

from __future__ import annotations

# Subdomains of the Wikipedia language editions, open and closed, plus the aliases MediaWiki
# still resolves as interlanguage prefixes (be-x-old, zh-yue, nb, ...). Source: Wikimedia Meta,
# "List of Wikipedias" (https://meta.wikimedia.org/wiki/List_of_Wikipedias) and its language
# code redirects, as of 2026; written out by hand.
WIKIPEDIA_LANGUAGES = frozenset("""
aa ab ace ady af ak als alt am ami an ang anp ar arc ary arz as ast atj av avk awa ay az azb
ba ban bar bat-smg bbc bcl bdr be be-tarask be-x-old bew bg bh bi bjn blk bm bn bo bpy br bs
btm bug bxr ca cbk-zam cdo ce ceb ch cho chr chy ckb co cr crh cs csb cu cv cy da dag de dga din
diq dsb dtp dty dv dz ee el eml en eo es et eu ext fa fat ff fi fiu-vro fj fo fon fr frp frr fur
fy ga gag gan gcr gd gl glk gn gom gor got gpe gsw gu guc gur guw gv ha hak haw he hi hif ho hr
hsb ht hu hy hyw hz ia iba id ie ig igl ii ik ilo inh io is it iu ja jam jbo jv ka kaa kab kbd
kbp kcg kg kge ki kj kk kl km kn knc ko koi kr krc ks ksh ku kus kv kw ky la lad lb lbe lez lfn
lg li lij lld lmo ln lo lrc lt ltg lv lzh mad mai map-bms mdf mg mh mhr mi min mk ml mn mni mnw
mos mr mrj ms mt mus mwl my myv mzn na nah nan nap nds nds-nl ne new ng nia nl nn no nov nqo nr
nrm nso nup nv ny oc olo om or os pa pag pam pap pcd pcm pdc pfl pi pih pl pms pnb pnt ps pt pwn
qu rki rm rmy rn ro roa-rup roa-tara rsk ru rue rup rw sa sah sat sc scn sco sd se sg sgs sh shi
shn si simple sk skr sl sm smn sn so sq sr srn ss st stq su sv sw syl szl szy ta tay tcy tdd te
tet tg th ti tig tk tl tly tn to tpi tr trv ts tt tum tw ty tyv udm ug uk ur uz ve vec vep vi
vls vo vro wa war wo wuu xal xh xmf yi yo yue za zea zgh zh zh-classical zh-min-nan zh-yue zu
nb dk cz jp minnan zh-cn zh-tw
""".split())

# Interwiki prefixes of Wikimedia's interwiki map that articles link through inline (sister
# projects and their short forms). Source: https://meta.wikimedia.org/wiki/Interwiki_map.
INTERWIKI_PREFIXES = frozenset("""
wiktionary wikt wikinews n wikibooks b wikiquote q wikisource s wikispecies species
wikiversity v wikivoyage voy wikimedia foundation wmf commons c meta m metawikimedia
mediawikiwiki mw incubator phabricator phab wikidata d outreach mediazilla bugzilla
wikitech testwiki w wikipedia wikimania
""".split())

# Namespace names of the English Wikipedia and the canonical names/aliases every wiki accepts,
# lower-cased, with their number (https://en.wikipedia.org/wiki/Wikipedia:Namespace).
ENGLISH_NAMESPACES = {
    "media": -2, "special": -1, "talk": 1, "user": 2, "user talk": 3, "wikipedia": 4,
    "project": 4, "wp": 4, "wikipedia talk": 5, "project talk": 5, "wt": 5, "file": 6, "image": 6,
    "file talk": 7, "image talk": 7, "mediawiki": 8, "mediawiki talk": 9, "template": 10,
    "template talk": 11, "help": 12, "help talk": 13, "category": 14, "category talk": 15,
    "portal": 100, "portal talk": 101, "draft": 118, "draft talk": 119, "timedtext": 710,
    "timedtext talk": 711, "module": 828, "module talk": 829,
}
# The canonical names every wiki resolves whatever its language (MediaWiki core).
CANONICAL_NAMESPACES = {"media": -2, "file": 6, "image": 6, "category": 14}

MEDIA_NAMESPACES = frozenset({-2, 6})
CATEGORY_NAMESPACE = 14
