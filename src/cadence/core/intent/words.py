"""The words of each intent, in English, German, French and Spanish, with their weight.

A rule is (intent, weight, pattern). Weight 3 decides alone ("not interested", "unsubscribe me"),
2 is a clear sign ("yes please", "makes sense").
Patterns are matched case-insensitively on the reply's own words; a match inside a longer match
of another intent does not count ("interested" inside "not interested"). Every quantifier is
bounded, so that matching stays linear on hostile input.
"""

from __future__ import annotations

import re

from cadence.core.intent.kinds import Intent

# fmt: off
_RULES: list[tuple[Intent, int, tuple[str, ...]]] = [
    # -- interested
    (
        "interested",
        3,
        (
            r"sounds? (good|great|interesting|perfect|fine)", r"let'?s (talk|chat|connect|do it|set (up|something))",
            r"happy to (talk|chat|meet|connect|hop on|take a look|learn more)",
            r"(i'?d|i would|we'?d|we would) (love|like|be happy|be glad) to (talk|chat|meet|learn|hear|see|know"
            r"|connect|get|schedule|try|set)",
            r"(please|can you|could you|feel free to) (send|share|book|schedule|set up)( me| us| over)?( an?| the"
            r"| some)? (invite|invitation|meeting|call|demo|deck|more (info|information|details)|details|pricing"
            r"|slot|times?|proposal|calendar link)",
            r"call me\b", r"give me a call", r"book (a|some) (time|slot|call|meeting|demo)",
            r"(i am|i'm|we are|we're|very|definitely|really|quite|are|am) interested",
            r"interested in (learning|hearing|seeing|a demo|a call|talking|your)", r"works for me", r"tell me more",
            r"send (me|us) (more|the|some)",
            r"(i|we) (can|could) do (monday|tuesday|wednesday|thursday|friday|next week|a call)",
            r"(monday|tuesday|wednesday|thursday|friday|tomorrow)( morning| afternoon)? (works|is good|is fine)",
            r"set up a (call|meeting|demo|time)",
            r"(free|around|available) (on )?(monday|tuesday|wednesday|thursday|friday|tomorrow|next week"
            r"|this week)",
            r"(what does|what's|what is) your (availability|calendar|schedule)",
            r"(next week|this week|monday|tuesday|wednesday|thursday|friday|tomorrow|\d{1,2} ?(am|pm|h|uhr)) (is"
            r"|would be|sounds) (fine|good|great|ok|okay|perfect)",
            r"(would|does|could) (monday|tuesday|wednesday|thursday|friday|tomorrow|next week"
            r"|\d{1,2}(:\d\d)? ?(am|pm)?) work",
            r"open to a (quick |short |brief )?(call|chat|conversation|demo|meeting)",
            r"(go ahead and )?(schedule|book|set up|block) \d{1,3} ?(minutes|mins?)",
            r"keen to (see|learn|hear|talk|chat)",
            r"walk (me|us) through",
            r"(can|could) you (show|walk|demo)",
            r"send (me |us )?(pricing|a quote|an offer|a proposal|the pricing)",
            r"^(very |definitely )?interested[.!,]",
            r"throw (something|a meeting|an invite) on my calendar", r"the timing is (right|good|perfect)",
            r"(good|right|perfect) (moment|time) (for|to)", r"came at a (good|great|perfect) (moment|time)",
            r"(send|share|propose|suggest) (a few|a couple of|some) (times|slots|dates)", r"times that work",
            r"(best|good) (number|way|time) to reach you", r"love (the|this) idea", r"let me know when you have",
            r"(we'?re|we are|i'?m|i am) evaluating",
            r"(can|could|shall) we (talk|speak|meet|chat|set up|schedule|do)", r"schedule a (call|meeting|demo)",
            r"i'?m in[!.]", r"count me in", r"keen to",
        ),
    ),
    (
        "interested",
        2,
        (
            r"yes please\b", r"(?<!not )sure[,!.]\b", r"sure thing\b", r"absolutely\b", r"good timing\b",
            r"perfect timing\b", r"curious (to (see|learn|hear|know)|about (the|your|pricing|how))", r"open to\b",
            r"could be (useful|interesting|a fit)\b",
            r"makes sense\b", r"worth a (look|conversation|chat|call)\b", r"demo\b",
        ),
    ),
    (
        "interested",
        3,
        (
            r"klingt (gut|interessant|spannend|super)",
            r"gerne (würde|möchte|können|mehr|einen|ein|per|auch|telefonieren|sprechen|nächste|am)", r"sehr gerne",
            r"(ich|wir) (bin|sind|wäre|wären) (sehr |durchaus )?interessiert",
            r"(ich|wir) (habe|hätte|haben|hätten) (großes |durchaus |schon )?interesse", r"interesse (an|daran)",
            r"rufen sie mich (gerne |doch )?an", r"ruf mich an", r"lassen sie uns (sprechen|telefonieren|reden)",
            r"schicken sie (mir|uns)", r"senden sie (mir|uns)", r"passt (mir|gut|bei mir)",
            r"termin (vereinbaren|ausmachen|vorschlagen|machen)", r"gern (einen|ein|mehr|telefonieren)", r"bin dabei",
            r"gerne mehr (infos|informationen|details)",
            r"wann (hätten|haben) sie zeit",
            r"(würden|möchten) (uns |wir )?gerne",
            r"(schlagen|nennen) sie(\s+[^\s.?!]{1,30}){0,4}\s+termine?",
            r"gerne(\s+[^\s.?!]{1,30}){0,4}\s+(ansehen|anschauen|kennenlernen|vorstellen lassen)",
            r"(könnte|würde) (für uns|uns) (passen|helfen|interessieren)",
            r"haben sie(\s+[^\s.?!]{1,30}){0,4}\s+zeit",
            r"(können|könnten|sollten|wollen) wir(\s+[^\s.?!]{1,30}){0,3}\s+(telefonieren|sprechen|reden|treffen"
            r"|austauschen)",
            r"(das thema|das) ist (bei uns )?(gerade |tatsächlich |aktuell )*(aktuell|relevant|spannend)",
        ),
    ),
    (
        "interested",
        3,
        (
            r"ça m'intéresse", r"cela m'intéresse", r"ca m'interesse",
            r"(je suis|nous sommes) (très |vraiment )?intéressée?s?", r"volontiers", r"avec plaisir", r"appelez-moi",
            r"appelez moi", r"(pouvez|pourriez)-vous m'envoyer", r"envoyez-moi", r"parlons-en",
            r"(ça|cela|ca) me (va|convient)", r"je suis disponible",
            r"on peut (s'appeler|se parler|en parler|faire un point)", r"fixons un", r"prenons (un )?rendez-vous",
            r"bonne idée", r"d'accord pour", r"pourquoi pas",
            r"échangeons",
            r"(vous irait|vous convient|vous va)",
            r"(vous|nous) intéresse\b", r"faire parvenir",
            r"(une )?offre (tarifaire|commerciale)", r"curieu(x|se) de", r"(voir|faire) une démo",
            r"(lundi|mardi|mercredi|jeudi|vendredi) \d{1,2}h",
        ),
    ),
    (
        "interested",
        3,
        (
            r"me interesa", r"nos interesa", r"estoy interesad[oa]", r"estamos interesad[oa]s",
            r"me parece (bien|genial|interesante|perfecto)", r"hablemos", r"llámame", r"llameme", r"llámeme",
            r"con gusto", r"encantad[oa]", r"claro que sí", r"(puede|podría|podrías) enviarme", r"envíeme",
            r"envíame", r"agendemos", r"me viene bien", r"me va bien", r"estoy disponible", r"cuadremos",
            r"suena (bien|interesante|genial)",
            r"(podemos|podríamos) (hacer|tener|agendar|hablar|vernos|quedar)",
            r"videollamada",
            r"nos gustaría (ver|conocer|saber|hablar)",
            r"qué disponibilidad",
            r"(tiene|tienes) hueco", r"(nos|me) puede interesar", r"(una|la) demo",
        ),
    ),
    # -- not now
    (
        "not_now",
        3,
        (
            r"not (right )?now", r"not at (this|the) (time|moment)", r"not (a|the) (priority|good time|right time)",
            r"(maybe|perhaps|possibly) (later|next|in|after|down the road|another time)",
            r"(reach|circle|check|come|get) back( to me| with me| in touch)? (in|after|next|later|around|towards"
            r"|closer)",
            r"(try|ping|contact|email|reach) (me|us)( again)? (in|after|next|later|around|again in|again after"
            r"|early|towards)",
            r"(follow up|touch base|reconnect) (in|after|next|later|around|early)", r"too (busy|early)",
            r"bad timing", r"timing is(n't| not) (right|great|good)",
            r"no (budget|capacity|bandwidth) (this|right|at|until|for now)",
            r"budget (is|was) (already )?(set|allocated|spent|frozen)", r"revisit (this|it)? ?(in|after|next|later)",
            r"(later|next) (this|in the) year", r"(not|nothing) (for|right) now", r"on hold",
            r"(in|after) (the )?new year",
            r"down the road",
            r"(hiring |budget )?freeze",
            r"frozen (until|till)",
            r"(able|free|ready) to (talk|look at this|revisit|discuss) (in|after|again)",
            r"(other|different) priorities", r"otras prioridades", r"andere prioritäten", r"d'autres priorités",
            r"(let'?s )?(talk|speak|chat|connect) again (in|after|next|later|around)",
            r"try (again|back) (in|after|later|next|around)",
            r"on (our|the) roadmap for (next|later)",
            r"not this (year|quarter)",
            r"at a later (date|stage|point)",
        ),
    ),
    (
        "not_now",
        3,
        (
            r"nicht (jetzt|im moment|momentan|gerade|zum jetzigen zeitpunkt|aktuell)",
            r"(im moment|momentan|derzeit|aktuell|zurzeit|gerade) (leider )?(nicht|kein|keine)",
            r"(melden|kontaktieren|schreiben) sie (sich|mich|uns)( gerne| bitte| doch)?( wieder| nochmal"
            r"| noch einmal)?( im| in| nach| ab| anfang| mitte| ende| nächst)",
            r"später (noch ?mal|wieder|gerne|im jahr)",
            r"zeitlich (gerade |momentan |aktuell )?nicht",
            r"gerne (im|in|nach|ab|anfang|mitte|ende)(\s+[^\s.?!]{1,30}){0,3}\s+(nochmal|noch einmal|wieder)",
            r"zu einem späteren zeitpunkt", r"aktuell keine kapazität",
            r"kommen sie (gerne |bitte )?(im|in|nach|ab|anfang|mitte|ende|nächst)",
            r"erst (im|in|nach|ab|nächst|wieder)", r"auf (eis|später)", r"vielleicht (später|nächst|im|in)",
        ),
    ),
    (
        "not_now",
        3,
        (
            r"pas (maintenant|pour le moment|pour l'instant|tout de suite|en ce moment|le bon moment)", r"plus tard",
            r"(recontactez|relancez|revenez vers|recontacter|relancer|revenir vers)(-moi|-nous| moi| nous)?",
            r"(à|a) un autre moment", r"(pas|aucun) budget (cette|pour le moment|avant)", r"(le )?moment n'est pas",
            r"ultérieurement", r"(peut-être|peut être) (en|à|au|dans|après|l'année)", r"dans quelques",
        ),
    ),
    (
        "not_now",
        3,
        (
            r"ahora no\b", r"no (es|sería) (el|un) (buen )?momento", r"por (ahora|el momento) no", r"más adelante",
            r"mas adelante",
            r"(contácteme|contáctame|escríbame|escríbeme|vuelva a (contactarme|escribirme)|vuelve a (contactarme"
            r"|escribirme)|llámeme|retomemos|hablemos)( de nuevo| otra vez)? (en|después|a partir|el próximo"
            r"|a principios|a mediados|a finales|dentro)",
            r"en otro momento", r"quizás (más|en|después)", r"quizá (más|en|después)", r"en este momento no",
            r"de momento no",
        ),
    ),
    # -- referral (a pointer to someone else; it needs a name, email or phone)
    (
        "referral",
        3,
        (
            r"please (contact|reach out to|talk to|speak (to|with)|email|write to|get in touch with|connect with"
            r"|try)",
            r"(you should|you'?ll want to|better to|best to|i'?d suggest|suggest you|recommend you) (contact"
            r"|reach out|talk|speak|email|get in touch|connect)",
            r"(reach out to|talk to|speak (to|with)|get in touch with|connect with|contact) (my|our) (colleague"
            r"|coworker|co-worker|team|head|director|manager|vp|cto|ceo|cfo|cmo|cio|lead)",
            r"(cc'?d|copied|looped in|looping in|adding|added|introducing|i'?ve forwarded (this|your email|it) to"
            r"|forwarding (this|your email|it) to)",
            r"is (the (right|best) (person|contact)|responsible for|in charge of|who handles)",
            r"the (right|best|correct) (contact|person) (for (this|that) )?(is|would be)",
            r"handles (this|these|that|our|all)", r"the (person|people|one|team) you (want|need|should talk to)",
            r"(would|should|will) go through", r"you can reach (her|him|them) (on|at)",
            r"kontaktieren sie (bitte )?(hierzu|dazu|diesbezüglich|hierfür)",
            r"c'est [^\s.,]{2,30}( [^\s.,]{2,30})? qui (gère|s'occupe|suit|pilote)",
            r"qui gère (ces|ce|les) (sujets?|dossiers?)",
            r"(they|he|she) (handles?|owns?|manages?|looks? after|takes? care of) (this|these|that|our|all|vendor"
            r"|purchas|it)",
            r"(contact|email|e-mail|write to|reach out to|talk to|speak (to|with)|ask|try) [a-z0-9._%+-]{1,64}@",
            r"(would|will) be (the|a) better (person|contact|fit)",
        ),
    ),
    (
        "referral",
        3,
        (
            r"wenden sie sich (bitte |gerne )?an", r"ansprechpartner(in)? (ist|wäre|dafür)", r"zuständig (ist|wäre)",
            r"kontaktieren sie (bitte |gerne )?(meine?n?|unsere?n?|herrn?|frau)",
            r"(meine?|unsere?) (kollegin|kollege|kollegen)",
            r"habe (ihre (mail|e-mail|nachricht)|das) (an|weitergeleitet)", r"weitergeleitet an", r"in kopie",
            r"in cc", r"ist (dafür )?zuständig",
            r"(herr|frau|herrn) [^\s.,]{2,30}( [^\s.,]{2,30})? (ist )?(dafür )?(zuständig|verantwortlich)",
        ),
    ),
    (
        "referral",
        3,
        (
            r"(contactez|adressez-vous à|voyez avec|écrivez à|je transmets à|j'ai transmis (votre (message"
            r"|mail) )?à|mon collègue|ma collègue|notre responsable|est (la bonne personne|le bon interlocuteur"
            r"|la bonne interlocutrice|responsable|en charge)|en copie)",
            r"c'est (lui|elle) qui",
            r"(vous )?adresser à",
            r"s'adresser à",
        ),
    ),
    (
        "referral",
        3,
        (
            r"contacte (a|con)", r"contacte con", r"hable con", r"habla con", r"escriba a", r"escríbale",
            r"escríbele", r"póngase en contacto con", r"ponte en contacto con", r"mi compañer[oa]",
            r"la persona (indicada|adecuada|correcta|responsable) es",
            r"nuestr[oa] (director|directora|responsable|jefe|jefa)",
            r"(es|sería) la persona (indicada|adecuada|correcta|responsable)", r"he reenviado",
            r"reenvío (su|tu) (correo|mensaje) a", r"en copia", r"le (pongo|incluyo) en copia",
            r"es quien (lleva|se encarga)", r"se encarga de",
        ),
    ),
    # -- wrong person
    (
        "wrong_person",
        3,
        (
            r"not the (right|best|correct|appropriate) (person|contact)", r"wrong (person|contact|address)",
            r"no longer (with|at|work(ing)? (at|for)|employed)",
            r"(i|we) (don'?t|do not|no longer) (handle|deal with|make|own|work)",
            r"not (my|in my) (area|department|responsibility|role|decision)", r"(i'?ve|i have) (left|moved on)",
            r"(has|have) left (the company|us)", r"left the company", r"not responsible for",
            r"(don'?t|do not) (have|get) (any |a |much )?say",
            r"no say in",
            r"not involved in",
            r"not (the|a) decision[- ]maker", r"don'?t know who",
            r"not the (one|person|guy|right one) to (talk|speak|ask|contact)",
            r"(got|have|reached|emailed|contacted) the wrong",
            r"(i|i have|i've) retired", r"(i|i have|i've) left (the company|[a-z]+ in)",
        ),
    ),
    (
        "wrong_person",
        3,
        (
            r"nicht (der|die) (richtige|passende) (ansprechpartner(in)?|person|kontakt)", r"nicht zuständig",
            r"(bin|ist) nicht (mehr )?(bei|für)", r"nicht mehr (bei|im unternehmen|für|tätig)",
            r"(hat|habe) das unternehmen verlassen", r"falsche(r|n)? (ansprechpartner|person|adresse)",
            r"keine zuständigkeit",
        ),
    ),
    (
        "wrong_person",
        3,
        (
            r"(pas la bonne personne|pas le bon interlocuteur|pas la bonne interlocutrice|ne (suis|travaille"
            r"|fait) plus|a quitté|ai quitté|ne m'occupe pas|ne s'occupe plus|pas de mon ressort|pas mon domaine"
            r"|pas en charge|mauvaise personne|mauvais interlocuteur)",
            r"je ne suis pas (en charge|responsable|la bonne)",
            r"pas concernée?s?",
        ),
    ),
    (
        "wrong_person",
        3,
        (
            r"no soy la persona", r"no es de mi (competencia|área|ámbito)",
            r"equivocad[oa] de (persona|contacto|dirección)",
            r"no soy (el|la) (responsable|indicad[oa]|encargad[oa])", r"ya no trabaj", r"dejé la empresa",
            r"ya no (estoy|está) en", r"no (me|le) corresponde", r"no es mi área", r"persona equivocada", r"no llevo",
        ),
    ),
    # -- not interested
    (
        "not_interested",
        3,
        (
            r"not (really |very |particularly |that |currently |at all )?interested", r"not open to",
            r"(absolutely|definitely|certainly) not", r"no (longer )?interest(ed)?", r"no thanks",
            r"no,? thank you", r"no need",
            r"not a (fit|priority for us|good fit)",
            r"(we|i) already (have|use|work with|pay for|own)",
            r"(we|i) (have|use|are using|work with|went with|chose|signed with|picked) (another|a different|our own|an"
            r" existing|a competing)", r"(we|i) (went with|chose|signed with|picked|selected) (a|an) ",
            r"(we|i) (don'?t|do not) (need|want|see a need|have a need)",
            r"please (don'?t|do not) (follow up|reach out)", r"pass(ing)? on this", r"we'?ll pass",
            r"(going to|gonna|will|have to|must|'ll|decided to) pass", r"(don'?t|do not) have (any |a )?need",
            r"(we'?re|we are|i'?m|i am) (good|fine|ok|okay),? thanks?", r"(have|has) no (need|use|interest)",
            r"renewed (with|our)", r"no (plans?|intention) to (change|switch)", r"not for us", r"no use for",
            r"not looking (for|to)", r"(we'?re|we are|i'?m|i am) all set", r"not relevant",
            r"not in the market",
            r"(isn'?t|is not|wasn'?t) a (good |great |real )?fit",
            r"take (this|that|it) as a no",
            r"the answer is no",
            r"decided to (stay|stick|keep|remain) with",
            r"(staying|sticking) with (our|what|the current|spreadsheets)",
            r"no demand",
            r"decided (against|not to)",
            r"(isn't|is not|not) something (we|i)('re| are| am)? ?(need|want|looking|interested|would)",
            r"^(no|nope|nein|non|no gracias|non merci)[.! ]{0,5}$", r"(we|i) are happy with",
            r"(we'?re|we are) happy with", r"stop (contacting|bothering)",
        ),
    ),
    (
        "not_interested",
        3,
        (
            r"kein(e|en)? (interesse|bedarf)", r"nicht interessiert",
            r"(haben|nutzen|verwenden|setzen) (bereits|schon) (eine?n? )?(lösung|anbieter|tool|software|system"
            r"|dienstleister|partner)",
            r"eigene (lösung|software|entwicklung)", r"brauchen (wir|ich) nicht",
            r"(brauchen|benötigen) (wir )?(keine?n?|das nicht)", r"(passt|ist) nicht (zu uns|für uns)",
            r"danke,? nein", r"nein,? danke",
            r"kein thema für uns", r"nicht relevant", r"sind (zufrieden|versorgt|gut aufgestellt)",
            r"(sind|bin) mit(\s+[^\s.?!]{1,30}){1,5}\s+(sehr |voll |absolut )?zufrieden",
            r"(planen|plane) keinen wechsel",
            r"(wir )?verzichten",
            r"kein weiteres interesse",
        ),
    ),
    (
        "not_interested",
        3,
        (
            r"pas intéressée?s?", r"pas interesse", r"ne (suis|sommes) pas intéressée?s?", r"ça ne m'intéresse pas",
            r"(ça|cela|ca) ne (m'|nous |vous )intéresse pas", r"cela ne (m|nous)'intéresse pas", r"non merci",
            r"pas (de )?besoin", r"aucun besoin",
            r"(avons|ai) déjà (un|une|des|notre|nos) (outil|solution|prestataire|fournisseur|partenaire|logiciel)",
            r"pas pour nous", r"ne correspond pas",
            r"pas pertinent", r"sommes satisfaits", r"pas (un sujet|une priorité|prioritaire) pour nous",
            r"(ne )?(donnerons|donnera|pouvons donner) pas suite",
        ),
    ),
    (
        "not_interested",
        3,
        (
            r"no (me|nos) interesa", r"no estoy interesad[oa]", r"no estamos interesad[oa]s", r"no,? gracias",
            r"no necesitamos",
            r"no (nos|me) hace falta",
            r"no lo necesitamos",
            r"ya (tenemos|contamos con|usamos|trabajamos con) (un|una|otro|otra|nuestro|nuestra) (herramienta"
            r"|solución|proveedor|sistema|software|plataforma)",
            r"no es para nosotros", r"no es algo que necesit", r"no lo necesit", r"no nos encaja",
            r"no (es|resulta) relevante", r"estamos content[oa]s", r"no (estamos|estoy) buscando",
        ),
    ),
    # -- unsubscribe
    (
        "unsubscribe_request",
        3,
        (
            r"unsubscribe", r"opt(ed)?[- ]?out", r"remove (me|us|my (email|address|name))", r"take me off",
            r"opt (me|us) out",
            r"(stop|quit|cease) (emailing|e-mailing|mailing|sending|writing|spamming|contacting) (me|us)",
            r"don'?t (email|contact|write to) me (again|anymore|any more)",
            r"do not (email|contact|write to) me (again|anymore|any more)",
            r"(delete|erase) my (data|details|information|contact)", r"off your (list|mailing list)",
            r"no more (emails|e-mails|messages)", r"(under|per|according to|as per) (the )?gdpr",
            r"never (contact|email|write to) (me|us)", r"(this is|that's|pure|stop the|stop this) spam",
        ),
    ),
    (
        "unsubscribe_request",
        3,
        (
            r"abmelden", r"abbestellen", r"austragen", r"(entfernen|löschen) sie (mich|meine)",
            r"keine (weiteren )?(e-mails|mails|nachrichten)( mehr)?",
            r"nicht mehr (kontaktieren|anschreiben|schreiben)", r"hören sie auf",
            r"(aus|von) (ihrem|ihrer|dem|der) (verteiler|liste|mailingliste|newsletter|datenbank)",
            r"(gemäß|laut|nach) (der )?dsgvo",
        ),
    ),
    (
        "unsubscribe_request",
        3,
        (
            r"désinscri", r"desinscri", r"désabonn", r"desabonn", r"(retirez|supprimez|enlevez)-moi",
            r"ne plus (me|m')", r"ne me (contactez|écrivez|recontactez) plus", r"arrêtez de",
            r"(selon|conformément au) rgpd",
            r"supprimer mes données", r"(supprimer|retirer|enlever|effacer) (mon adresse|mes coordonnées)",
            r"de vos (listes|fichiers)",
        ),
    ),
    (
        "unsubscribe_request",
        3,
        (
            r"(darme|darnos|denme|dénme|deme|déme|dame|denos) de baja", r"darse de baja", r"baja de (la|su|tu) lista",
            r"no (me|nos) (escriba|escribas|contacte|contactes|envíe|envíes) más", r"dejen de (escribir|enviar)",
            r"no quiero recibir más", r"(bórrenme|bórreme|sáquenme|sáqueme|quítenme|quíteme)",
            r"elimin(e|en|a)n? mis datos", r"borr(e|en|a) mis datos",
        ),
    ),
    # -- out of office (words; the headers are read by cadence.core.inbound)
    (
        "out_of_office",
        3,
        (
            r"out of (the )?office",
            r"(i am|i'm) (currently )?(away|out|on (annual |parental |sick )?(leave|vacation|holiday))",
            r"(limited|no) access to (my )?e-?mail",
            r"will (respond|reply|get back to you|answer) (to your (email|message) )?(upon|when i|after my"
            r"|on my) return",
            r"automatic reply", r"auto-?reply",
        ),
    ),
    (
        "out_of_office",
        3,
        (
            r"nicht im büro", r"abwesend", r"im urlaub", r"außer haus", r"ausser haus", r"abwesenheitsnotiz",
            r"automatische antwort", r"keinen zugriff auf (meine )?e-?mails", r"nach meiner rückkehr", r"elternzeit",
        ),
    ),
    (
        "out_of_office",
        3,
        (
            r"absente?\b", r"en congés?\b", r"en vacances\b", r"hors du bureau", r"réponse automatique",
            r"à mon retour", r"dès mon retour", r"sans accès",
        ),
    ),
    (
        "out_of_office",
        3,
        (
            r"fuera de la oficina", r"de vacaciones\b", r"ausente\b", r"respuesta automática", r"a mi regreso",
            r"sin acceso a(l)? (mi )?correo", r"de baja (médica|por)",
        ),
    ),
]
# fmt: on

RULES: tuple[tuple[Intent, int, re.Pattern[str]], ...] = tuple(
    (intent, weight, re.compile(r"\b(?:" + "|".join(words) + ")", re.I)) for intent, weight, words in _RULES
)
"""Every rule, compiled: (intent, weight, pattern)."""
