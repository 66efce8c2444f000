#!/usr/bin/env python3
"""Deterministic generator for the Northwind Trail Co. ticket-triage data set.

Composes synthetic customer-support tickets from hand-written templates and
labels each one with a triage object:

    {"category", "priority", "product", "sentiment", "reply"}

Writes train.jsonl and eval_split.jsonl (the held-out split), the demo
bundle's dataset, next to this script in OpenAI chat format (user = ticket,
assistant = json.dumps(triage)). Python 3.11 stdlib only; the same seed
always produces byte-identical files.

    python data/demo/make_tickets.py [--seed 20240611] [--train 600] [--heldout 60]
"""
from __future__ import annotations

import argparse
import json
import re
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

CATEGORIES = ["return", "warranty", "shipping", "order_status",
              "product_question", "billing", "account", "feedback"]
PRIORITIES = ["low", "normal", "high", "urgent"]
SENTIMENTS = ["positive", "neutral", "negative"]
OPEN, CLOSE = "Hey trailblazer!", "See you out there."

# ---------------------------------------------------------------------------
# Product line facts (must agree with kb/returns-policy.md and warranty docs)
# ---------------------------------------------------------------------------
KINDS = {
    # kind: (return window days, noun used in replies)
    "tent": (60, "tents"),
    "sleeping_bag": (45, "sleeping bags"),
    "pad": (45, "sleeping pads"),
    "pack": (90, "backpacks"),
    "footwear": (30, "footwear"),
    "stove": (14, "stoves"),
    "cookware": (14, "cookware"),
    "apparel": (75, "jackets and apparel"),
    "headlamp": (21, "headlamps"),
    "poles": (40, "trekking poles"),
    "filter": (40, "water filters"),
    "chair": (40, "camp furniture"),
}

# Warranty issues per kind: (ticket clause, short label, years covered or None
# for lifetime, coverage phrase, paid-repair phrase, only-for-product or None)
ISSUES = {
    "tent": [
        ("one of the poles snapped while I was pitching it", "snapped pole", 5,
         "tent poles are covered for 5 years", "our repair team replaces a pole segment for $15", None),
        ("the main door zip has split and won't stay closed", "split door zip", 3,
         "tent zips are covered for 3 years", "our repair team replaces a zip slider for $18", None),
        ("the seam tape on the fly is peeling and it dripped on us all night", "peeling seam tape", 3,
         "tent seams are covered for 3 years", "our repair team reseals a tent for $35", None),
    ],
    "sleeping_bag": [
        ("the zip has torn away from the shell", "torn-away zip", 10,
         "sleeping bag zips are covered for 10 years", "a full zip replacement is $45", None),
        ("a baffle wall ripped inside and the fill is all bunched on one side", "ripped baffle", 10,
         "baffles are covered for 10 years", "our repair team will quote a fix for free", None),
    ],
    "pad": [
        ("the valve leaks and I'm on the ground by 2am", "leaking valve", 2,
         "pad valves are covered for 2 years", "our repair team will quote a fix for free", None),
        ("there's a huge bulge where the inner baffles came apart", "delaminated baffles", 2,
         "delamination is covered for 2 years", "our repair team will quote a fix for free", None),
    ],
    "pack": [
        ("the hipbelt buckle cracked on a normal load", "cracked hipbelt buckle", None,
         "packs have a lifetime warranty against defects", "", None),
        ("the stitching where the shoulder strap meets the pack is pulling out", "failing strap stitching", None,
         "packs have a lifetime warranty against defects", "", None),
        ("the main zip keeps splitting open", "splitting main zip", None,
         "packs have a lifetime warranty against defects", "", None),
    ],
    "footwear": [
        ("the sole is peeling away from the upper at the toe", "peeling sole", 1,
         "sole separation is covered for 1 year", "our repair team will quote a fix for free", None),
        ("the stitching along the side has come undone", "split stitching", 1,
         "stitching is covered for 1 year", "our repair team will quote a fix for free", None),
        ("one of the lace hooks snapped off", "broken lace hook", 1,
         "lace hardware is covered for 1 year", "our repair team will quote a fix for free", None),
    ],
    "stove": [
        ("the igniter stopped sparking", "dead igniter", 2,
         "stoves are covered for 2 years", "our repair team will quote a fix for free", None),
        ("the flame control valve is stuck", "stuck control valve", 2,
         "stoves are covered for 2 years", "our repair team will quote a fix for free", None),
        ("one of the pot supports cracked", "cracked pot support", 2,
         "stoves are covered for 2 years", "our repair team will quote a fix for free", None),
    ],
    "cookware": [
        ("the handle on the pot came loose", "loose pot handle", 5,
         "cookware is covered for 5 years", "our repair team will quote a fix for free", None),
        ("a rivet on the mug handle popped out", "popped handle rivet", 5,
         "cookware is covered for 5 years", "our repair team will quote a fix for free", None),
    ],
    "apparel": [
        ("the main zip split and won't close", "split zip", 2,
         "jacket zips are covered for 2 years", "a zip replacement is $45", None),
        ("a seam under the arm has opened up", "open seam", 2,
         "seams are covered for 2 years", "a patch repair is $12", None),
        ("it's leaking through at the shoulders and hood", "shoulder leak", 3,
         "waterproofness is covered for 3 years", "our repair team will quote a fix for free",
         "Squall Shell Jacket"),
        ("down is escaping from a seam on the sleeve", "down escaping from a seam", 2,
         "seams are covered for 2 years", "a patch repair is $12", "Northloft Down Jacket"),
    ],
    "headlamp": [
        ("the switch stopped responding", "unresponsive switch", 2,
         "headlamps are covered for 2 years", "our repair team will quote a fix for free", None),
        ("the light flickers constantly", "flickering light", 2,
         "headlamps are covered for 2 years", "our repair team will quote a fix for free", None),
        ("it won't charge anymore", "charging fault", 2,
         "charging ports are covered for 2 years", "our repair team will quote a fix for free",
         "Beacon 900 Headlamp"),
        ("the battery door cracked and won't latch", "cracked battery door", 2,
         "headlamps are covered for 2 years", "our repair team will quote a fix for free",
         "Firefly 400 Headlamp"),
    ],
    "poles": [
        ("one of the flick locks won't hold and the pole keeps collapsing", "slipping flick lock", 3,
         "poles are covered for 3 years", "our repair team will quote a fix for free", None),
        ("a grip came loose from the shaft", "loose grip", 3,
         "poles are covered for 3 years", "our repair team will quote a fix for free", None),
    ],
    "filter": [
        ("the housing cracked near the thread", "cracked housing", 1,
         "filters are covered for 1 year", "a new filter is $45", None),
        ("the squeeze pouch split along the seam", "split pouch", 1,
         "filters are covered for 1 year", "a new filter is $45", None),
    ],
    "chair": [
        ("one of the frame poles cracked at the hub", "cracked frame pole", 1,
         "camp chairs are covered for 1 year", "our repair team will quote a fix for free", None),
        ("the seat fabric tore along a seam", "torn seat seam", 1,
         "camp chairs are covered for 1 year", "a patch repair is $12", None),
    ],
}


def P(name, kind, aliases, price, weight, colours=None, rent=None, care=None, qa=(), pl=False, price_txt=None):
    """price: lowest list price in USD (int); price_txt: how replies quote it."""
    return dict(name=name, kind=kind, aliases=aliases, price=price, price_txt=price_txt or f"${price}", weight=weight,
                colours=colours, rent=rent, care=care, qa=list(qa), pl=pl)


TENT_CARE = ("Sponge it by hand with lukewarm water and a little non-detergent soap, never in a machine, "
             "and dry it fully before storing it loose.")
SIZES = ["7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12"]


def up_half(s):
    v = float(s) + 0.5
    return str(int(v)) if v == int(v) else str(v)


PRODUCTS = [
    P("Kestrel 2 Tent", "tent", ["Kestrel 2 Tent", "Kestrel 2 tent", "Kestrel 2", "kestrel 2 tent"],
      389, "1.62 kg packed (1.45 kg minimum trail weight)", "Moss Green and Sandstone", 24, TENT_CARE, [
          ("Can two adults really fit in the {a} with gear inside?",
           "The Kestrel 2 Tent floor is 218 x 132 cm, and its two vestibules hold packs and boots outside."),
          ("Does the {a} come with a footprint?",
           "It doesn't include one, but a matching footprint is sold separately for $49."),
          ("How tall is the {a} inside? [Can I sit up?|Can you sit up in it?]",
           "The Kestrel 2 Tent has a 104 cm peak height, plenty for sitting up."),
      ]),
    P("Bramblecrest 4 Tent", "tent", ["Bramblecrest 4 Tent", "Bramblecrest 4", "Bramblecrest tent", "bramblecrest 4 tent"],
      549, "5.4 kg packed", "Forest and Slate", 32, TENT_CARE, [
          ("Can I stand up inside the {a}? I'm [178|180|182] cm.",
           "Yes, the Bramblecrest 4 Tent has a 185 cm peak height, so you can stand at the centre."),
          ("Can the {a} be split into two rooms for the kids?",
           "Yes, its removable divider splits the inner into two 2-person rooms."),
          ("How long does the {a} take to put up?",
           "Two people can pitch the Bramblecrest 4 Tent in about 12 minutes thanks to colour-coded poles."),
      ]),
    P("Scree 1 Tent", "tent", ["Scree 1 Tent", "Scree 1", "Scree tent", "scree 1 tent"],
      329, "0.98 kg packed", "Stone Grey and Ochre", None, TENT_CARE, [
          ("Do I need to buy poles for the {a}?",
           "It pitches with one trekking pole set to 125 cm, or a dedicated carbon pole for $19."),
          ("Is the {a} freestanding?",
           "No, the Scree 1 Tent needs its 6 included stakes and one trekking pole at 125 cm."),
      ]),
    P("Ptarmigan -10 Sleeping Bag", "sleeping_bag",
      ["Ptarmigan -10 Sleeping Bag", "Ptarmigan -10 bag", "Ptarmigan -10", "ptarmigan sleeping bag"],
      429, "1.18 kg in Regular", "Ember Orange", 16,
      "Wash it once or twice a year in a front-loader at 30°C with down wash, then tumble dry low with three tennis balls.", [
          ("Is the {a} warm enough for nights [around freezing|at about 0C|in the low 30s F]?",
           "Yes, the Ptarmigan -10 Sleeping Bag has a -4°C comfort rating and a -10°C limit rating."),
          ("I'm [188|190|193] cm tall, which length of the {a} should I get?",
           "Go for the Long, which fits people up to 198 cm; the Regular fits up to 183 cm."),
      ]),
    P("Larkspur +5 Sleeping Bag", "sleeping_bag",
      ["Larkspur +5 Sleeping Bag", "Larkspur +5", "Larkspur bag", "larkspur sleeping bag"],
      149, "980 g", "Teal and Plum", 10,
      "It's machine washable on a gentle 30°C cycle with mild soap; tumble dry low for about an hour.", [
          ("Can two {a}s zip together into a double?",
           "Yes, a left-zip and a right-zip Larkspur +5 Sleeping Bag zip together into a double bag."),
          ("Is the {a} warm enough for [early spring|October] camping in the mountains?",
           "Probably not; its comfort rating is +9°C, so for colder nights add a liner or choose the Ptarmigan -10."),
      ]),
    P("Driftmat 4R Sleeping Pad", "pad", ["Driftmat 4R Sleeping Pad", "Driftmat 4R", "Driftmat pad", "driftmat sleeping pad"],
      139, "540 g in Regular", None, 6,
      "Wipe it with mild soapy water, never machine wash, and store it unrolled with the valve open.", [
          ("Is the {a} warm enough for camping near freezing?",
           "Yes, with an R-value of 4.2 the Driftmat 4R Sleeping Pad handles three-season nights near freezing."),
          ("Does the {a} come with a pump?",
           "Yes, it includes a pump sack that doubles as its stuff sack."),
          ("How thick is the {a}?",
           "The Driftmat 4R Sleeping Pad is 7.6 cm thick with an R-value of 4.2."),
      ]),
    P("Switchback 45 Backpack", "pack", ["Switchback 45 Backpack", "Switchback 45", "Switchback pack", "switchback 45 backpack"],
      229, "1.35 kg (S/M)", "Juniper and Basalt", 12, None, [
          ("My torso measures [40|42|44] cm, which size {a} do I need?",
           "Go for S/M, which fits torsos of 38-46 cm; M/L covers 46-53 cm."),
          ("My torso is [48|50|52] cm long, which size of the {a}?",
           "Go for M/L, which fits torsos of 46-53 cm."),
          ("Does the {a} come with a rain cover?",
           "It doesn't include one; a rain cover is sold separately for $24."),
      ]),
    P("Longhaul 65 Backpack", "pack", ["Longhaul 65 Backpack", "Longhaul 65", "Longhaul pack", "longhaul 65 backpack"],
      289, "2.05 kg", "Fjord Blue and Basalt", 14, None, [
          ("How much weight can the {a} carry comfortably?",
           "The Longhaul 65 Backpack is designed for loads up to 25 kg."),
          ("Does the {a} have a rain cover?",
           "Yes, it has an integrated rain cover in a zipped base pocket."),
          ("Will the {a} fit me? My torso is [43|47|50] cm.",
           "Yes, its adjustable harness fits torsos of 41-53 cm."),
      ]),
    P("Cairnrunner 22 Daypack", "pack", ["Cairnrunner 22 Daypack", "Cairnrunner 22", "Cairnrunner daypack", "cairnrunner 22 daypack"],
      99, "640 g", "Ember and Sage", None, None, [
          ("Will a 2 litre water bladder fit in the {a}?",
           "Yes, the Cairnrunner 22 Daypack fits a hydration reservoir up to 2 litres."),
          ("Does the {a} have a hip belt?",
           "It has a removable 25 mm webbing hipbelt and is built for loads up to 8 kg."),
      ]),
    P("Ridgeback Mid Hiking Boot", "footwear",
      ["Ridgeback Mid Hiking Boots", "Ridgeback Mid boots", "Ridgeback boots", "ridgeback mid hiking boots"],
      219, "620 g per boot (men's US 9)", "Walnut and Graphite", None,
      "Brush them with a nubuck brush, dry them away from direct heat and reproof with a water-based nubuck spray.", [
          ("I'm a size {size} in sneakers, what size {a} should I order?",
           "The Ridgeback Mid Hiking Boot fits true to size, so go with {size}, or half a size up for thick socks."),
          ("Are the {a} waterproof?",
           "Yes, the Ridgeback Mid Hiking Boot has a waterproof-breathable membrane bootie."),
          ("Can the {a} be resoled when the tread wears out?",
           "Yes, our repair team resoles the Ridgeback Mid Hiking Boot for $89 a pair."),
      ], pl=True),
    P("Fellstride Trail Runner", "footwear",
      ["Fellstride Trail Runners", "Fellstride runners", "Fellstride shoes", "fellstride trail runners"],
      159, "290 g per shoe (men's US 9)", "Lichen and Cobalt", None,
      "Hand wash them with a soft brush and mild soap and air dry away from heat; no washing machine.", [
          ("I normally wear a {size}, what size {a} should I get?",
           "The Fellstride Trail Runner runs about half a size small, so most people order {size_up}."),
          ("Are the {a} waterproof?",
           "No, the Fellstride Trail Runner has a mesh upper that drains and dries fast instead."),
          ("Do the {a} come in wide?",
           "The Fellstride Trail Runner comes in regular width only; the Ridgeback Mid Hiking Boot has a wide fit."),
      ], pl=True),
    P("Emberjet Stove", "stove", ["Emberjet Stove", "Emberjet", "Emberjet stove", "emberjet stove"],
      89, "96 g", None, 9, None, [
          ("Will the {a} work with other brands' gas canisters?",
           "Yes, the Emberjet Stove fits any isobutane-propane canister with a standard threaded valve."),
          ("How long does the {a} take to boil a litre of water?",
           "About 3.5 minutes for 1 litre at sea level in calm conditions."),
          ("Can I use the {a} inside my tent if it's raining?",
           "Please don't; the Emberjet Stove is for outdoor use only because of fire and carbon monoxide risk."),
      ]),
    P("Cinderpot Cook Set", "cookware", ["Cinderpot Cook Set", "Cinderpot", "Cinderpot pot set", "cinderpot cook set"],
      69, "210 g", None, None,
      "Clean it with hot water and a soft sponge, or in the dishwasher at home, and never heat it empty.", [
          ("Does an Emberjet fit inside the {a}?",
           "Yes, the 900 ml Cinderpot pot holds an Emberjet Stove plus a 100 g canister."),
          ("Is the {a} dishwasher safe?",
           "Yes, the titanium Cinderpot Cook Set can go in the dishwasher at home."),
      ]),
    P("Squall Shell Jacket", "apparel", ["Squall Shell Jacket", "Squall shell", "Squall jacket", "squall shell jacket"],
      299, "410 g (men's M)", "Alpine Red, Ink Navy and Black", None,
      "Wash it with a technical cleaner at 30°C, no softener, then tumble dry low for 20 minutes to revive the water repellency.", [
          ("How waterproof is the {a}?",
           "The Squall Shell Jacket is rated 20,000 mm with fully taped seams."),
          ("Will a climbing helmet fit under the hood of the {a}?",
           "Yes, the Squall Shell Jacket hood is helmet-compatible with three-way adjustment."),
          ("Should I size up in the {a} to wear a down jacket underneath?",
           "It fits a fleece or light down jacket underneath; go one size up only for a thick down jacket."),
      ]),
    P("Northloft Down Jacket", "apparel", ["Northloft Down Jacket", "Northloft jacket", "Northloft", "northloft down jacket"],
      259, "360 g (men's M)", "Saffron and Black", None,
      "Wash it rarely with a down-specific wash at 30°C and tumble dry low with three tennis balls.", [
          ("Is the {a} OK to wear in the rain?",
           "Down loses warmth when wet, so wear the Northloft Down Jacket under a waterproof shell in steady rain."),
          ("Does the {a} pack into its own pocket?",
           "Yes, it packs into its left hand pocket, which has a clip loop."),
      ]),
    P("Boreal Fleece Hoodie", "apparel", ["Boreal Fleece Hoodie", "Boreal fleece", "Boreal hoodie", "boreal fleece hoodie"],
      109, "380 g (size M)", "Heather Grey and Moss", None,
      "Machine wash it cold and inside out, then line dry; a microfibre-catching wash bag helps.", [
          ("What's the {a} made from?",
           "The Boreal Fleece Hoodie is 250 g/m2 grid fleece made from 100% recycled polyester."),
          ("I'm a women's medium, what size {a} should I get?",
           "It uses unisex sizing and women usually go one size down, so try a small."),
      ]),
    P("Firefly 400 Headlamp", "headlamp", ["Firefly 400 Headlamp", "Firefly 400", "Firefly headlamp", "firefly 400 headlamp"],
      59, "78 g with batteries", "Black and Orange", None, None, [
          ("What batteries does the {a} take?",
           "It takes 3 AAA batteries, alkalines included, and rechargeable AAAs work too."),
          ("How long does the {a} last on low?",
           "About 60 hours on low and about 4 hours on high."),
          ("Does the {a} have a red light mode?",
           "Yes, the Firefly 400 Headlamp has steady and flashing red modes to protect night vision."),
      ]),
    P("Beacon 900 Headlamp", "headlamp", ["Beacon 900 Headlamp", "Beacon 900", "Beacon headlamp", "beacon 900 headlamp"],
      99, "112 g", "Graphite", None, None, [
          ("How long does the {a} take to charge?",
           "About 4 hours for a full charge over USB-C."),
          ("Can I use the {a} in heavy rain?",
           "Yes, it's rated IPX7, so it can even be submerged to 1 m for 30 minutes."),
          ("How bright is the {a} and how far does it throw?",
           "The Beacon 900 Headlamp puts out 900 lumens with a 150 m beam on high."),
      ]),
    P("Stonestep Carbon Trekking Poles", "poles",
      ["Stonestep Carbon Trekking Poles", "Stonestep Carbon poles", "carbon Stonestep poles", "stonestep carbon poles"],
      149, "215 g per pole", None, None, None, [
          ("How short do the {a} pack down?",
           "They collapse to 63 cm and adjust from 100 to 135 cm."),
          ("Are the {a} sold as a pair?",
           "Yes, they're $149 for a pair, at 215 g per pole."),
      ], pl=True),
    P("Stonestep Alloy Trekking Poles", "poles",
      ["Stonestep Alloy Trekking Poles", "Stonestep Alloy poles", "alloy Stonestep poles", "stonestep alloy poles"],
      79, "270 g per pole", None, None, None, [
          ("Do the {a} come with snow baskets?",
           "Summer baskets are included; snow baskets are sold separately."),
          ("What's the longest length for the {a}? I'm [188|192] cm.",
           "They adjust from 105 to 140 cm, so there's plenty of length for you."),
      ], pl=True),
    P("Tarnwater Squeeze Filter", "filter", ["Tarnwater Squeeze Filter", "Tarnwater filter", "Tarnwater", "tarnwater squeeze filter"],
      45, "85 g", None, None,
      "Backflush it with the included syringe after every trip, let it dry with the caps off and never let it freeze.", [
          ("Does the {a} remove viruses?",
           "No, it removes bacteria and protozoa but not viruses, so add chemical treatment where viruses are a concern."),
          ("How many litres is the {a} good for?",
           "It's rated for 1,500 litres; backflush it after every trip to keep it flowing."),
          ("Is it OK to leave the {a} in my car overnight in winter?",
           "No, never let a used filter freeze; a frozen filter must be replaced."),
      ]),
    P("Gullwing Camp Chair", "chair", ["Gullwing Camp Chair", "Gullwing chair", "Gullwing", "gullwing camp chair"],
      79, "960 g", "Coral and Graphite", None, None, [
          ("What's the weight limit on the {a}?",
           "The Gullwing Camp Chair holds up to 120 kg."),
          ("How small does the {a} pack down?",
           "It packs to 36 x 12 cm and weighs 960 g."),
          ("Does the {a} sink in sand?",
           "The feet can sink in soft sand, so grab the wide sand feet we sell in store for $12."),
      ]),
]
BY_NAME = {p["name"]: p for p in PRODUCTS}
for _n, _t in {"Ptarmigan -10 Sleeping Bag": "$429 (Regular) or $449 (Long)",
               "Driftmat 4R Sleeping Pad": "$139 (Regular) or $159 (Long Wide)",
               "Stonestep Carbon Trekking Poles": "$149 a pair",
               "Stonestep Alloy Trekking Poles": "$79 a pair"}.items():
    BY_NAME[_n]["price_txt"] = _t

# ---------------------------------------------------------------------------
# Slot vocabularies
# ---------------------------------------------------------------------------
FIRST = ["Maya", "Jordan", "Priya", "Tom", "Lena", "Carlos", "Aisha", "Ben", "Sofia", "Dmitri",
         "Hannah", "Kenji", "Olivia", "Marcus", "Ines", "Sam", "Grace", "Theo", "Nadia", "Liam",
         "Rosa", "Ethan", "Yuki", "Femi", "Clara", "Owen", "Zara", "Mateo", "Ruth", "Anil",
         "Greta", "Diego", "Chloe", "Ravi", "Elise", "Noah", "Amara", "Felix", "Ivy", "Jonas"]
LAST = ["Okafor", "Lindqvist", "Patel", "Nguyen", "Brennan", "Alvarez", "Kowalski", "Haddad",
        "Murphy", "Tanaka", "Schmidt", "Reyes", "Walsh", "Moreau", "Chen", "Adeyemi", "Larsen",
        "Costa", "Fischer", "Ibrahim", "Novak", "Price", "Quinn", "Sato", "Vega", "Whitfield"]
STORES = ["Cedar Hollow", "Seattle", "Boise", "Denver", "Bend"]
RENT_STORES = ["Cedar Hollow", "Seattle", "Denver", "Bend"]
ZONES = {
    1: (["Oregon", "Washington", "Idaho"], "$4.95", "2-3"),
    2: (["California", "Nevada", "Montana", "Wyoming", "Utah", "Colorado", "Arizona", "New Mexico"], "$6.95", "3-4"),
    3: (["Texas", "Minnesota", "Illinois", "Michigan", "Kansas", "Iowa", "Missouri", "Wisconsin", "Oklahoma"], "$8.95", "4-5"),
    4: (["New York", "Florida", "Georgia", "Vermont", "Maine", "North Carolina", "Virginia", "Pennsylvania", "Massachusetts"], "$10.95", "5-7"),
    5: (["Alaska", "Hawaii"], "$24.95", "7-12"),
}
COUNTRIES = [("Canada", 29), ("the UK", 39), ("Germany", 39), ("France", 39), ("Ireland", 39),
             ("the Netherlands", 39), ("Australia", 49), ("New Zealand", 49)]
NO_SHIP = ["Japan", "Mexico", "Brazil", "South Africa", "Singapore"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
MONTHS = ["March", "April", "May", "June", "July", "August", "September", "October"]
PLACES = ["the Wonderland Trail", "a week in the Sawtooths", "the Enchantments", "three days on the Oregon coast",
          "the Timberline Trail", "a trip to the Wind Rivers", "a weekend at Crater Lake", "the Colorado Trail",
          "a family trip to the San Juans", "the Three Sisters loop", "a desert trip in Utah"]
RETAILERS = ["Summit Supply Company", "Ridge & River Outfitters", "Basecamp Depot", "Alpine Hardware Company"]
AGENTS = ["Jess", "Marco", "Tamsin", "Dev", "Hollis", "Bea", "Rowan"]
STAFF = ["Emma", "Luis", "Kai", "Sunita", "Pete", "Rhiannon", "Omar"]
CODES = ["TRAIL15", "SPRING10", "WELCOME20", "CAMPOUT", "HIKE25", "FALLGEAR"]

# Trip clauses: (text, escalated priority)
TRIPS = [
    ("I'm leaving for a trip tomorrow morning.", "urgent"),
    ("We head out on the trail tomorrow.", "urgent"),
    ("My flight to the trailhead is tomorrow!", "urgent"),
    ("I start a five-day hike tomorrow.", "urgent"),
    ("Need this sorted today, we leave at 6am tomorrow.", "urgent"),
    ("Our trip starts this weekend.", "high"),
    ("We're heading out on Saturday.", "high"),
    ("I leave for a backpacking trip in three days.", "high"),
]

GREETS = ["", "", "", "Hi,", "Hello,", "Hi there,", "Hey,", "Hello Northwind team,", "Good morning,",
          "Hi Northwind,", "Hey folks,"]
SIGNS = ["", "", "", "Thanks", "Thanks, {first}", "- {first}", "Cheers, {first}", "Regards, {first} {last}",
         "Thx", "Thanks in advance!", "{first}"]
# Optional lead-in sentences that add length without changing the labels
CONTEXT = {
    "return": ["I've shopped with you for years.", "I bought it for a trip that got cancelled.",
               "My partner ended up buying me something similar."],
    "warranty": ["I've looked after it carefully and always dried it properly.", "It happened halfway through {place}.",
                 "I've been a loyal customer for ages."],
    "shipping": ["I ordered it as a birthday present.", "I've been checking the tracking every day.",
                 "It's my first order with you."],
    "order_status": ["It's a gift for my dad.", "First time ordering from you.", "I ordered it on the app."],
    "product_question": ["I'm new to backpacking.", "I'm planning my first solo trip.",
                         "My current gear is about fifteen years old.", "I'm trying to cut pack weight this year."],
    "billing": ["I've shopped with you for years.", "I'm a Ridgeline member."],
    "account": ["I've had my account since 2016.", "I use the app mostly."],
    "feedback": ["I've been a customer since the Cedar Hollow store opened.", "Long-time customer here."],
}
NEG_ADD = ["This is really frustrating.", "Not impressed.", "Honestly pretty annoyed.",
           "Not what I expect from you guys.", "Please sort this out."]
POS_ADD = ["Love your shop!", "You guys rock.", "Keep up the great work.", "Big fan of Northwind."]


# ---------------------------------------------------------------------------
# Template machinery
# ---------------------------------------------------------------------------
TEMPLATES: list[dict] = []


def T(cat, pri, sent, text, reply, prod=None, trip=None, extra=None):
    """Register a ticket template.

    prod: None (ticket names no product), "any", a set of kinds, or a set of
          exact product names.
    trip: None, "maybe" or "always": add a trip clause that can raise priority.
    extra: f(rng, product) -> dict of extra slots, or None to reject the product.
    """
    assert cat in CATEGORIES and pri in PRIORITIES and sent in SENTIMENTS
    TEMPLATES.append(dict(cat=cat, pri=pri, sent=sent, text=text, reply=reply,
                          prod=prod, trip=trip, extra=extra))


def prod_ok(t, p):
    f = t["prod"]
    if f == "any":
        return True
    return p["kind"] in f or p["name"] in f


CHOICE = re.compile(r"\[([^\[\]]*)\]")


def expand(rng, s):
    # innermost [a|b] groups first, so choices can be nested
    while True:
        new = CHOICE.sub(lambda m: rng.choice(m.group(1).split("|")), s, count=1)
        if new == s:
            return s
        s = new


def fill(rng, s, slots):
    return expand(rng, s).format(**slots)


def money(p):
    return p["price_txt"]


def issue_for(rng, p, covered=True):
    opts = [i for i in ISSUES[p["kind"]] if i[5] in (None, p["name"])]
    if not covered:
        opts = [i for i in opts if i[2] is not None]
    if not opts:
        return None
    clause, short, years, cov, repair, _ = rng.choice(opts)
    return dict(issue=clause, short=short, years=years, cov=cov, repair=repair)


# -- extra-slot helpers -----------------------------------------------------
def x_in_window(rng, p):
    win = KINDS[p["kind"]][0]
    if win > 21 and rng.random() < 0.4:
        w = rng.randint(1, (win - 3) // 7)
        ago = f"{w} week{'s' if w > 1 else ''} ago" if w > 1 else "last week"
    else:
        d = rng.randint(2, win - 3)
        ago = f"{d} days ago"
    return dict(ago=ago, win=win, noun=KINDS[p["kind"]][1])


def x_out_window(rng, p):
    win = KINDS[p["kind"]][0]
    d = win + rng.randint(10, 120)
    if d > 70 and rng.random() < 0.5:
        ago = f"about {d // 30} months ago"
        if (d // 30) * 30 <= win + 5:
            ago = f"{d} days ago"
    else:
        ago = f"{d} days ago"
    return dict(ago=ago, win=win, noun=KINDS[p["kind"]][1])


def x_issue(rng, p):
    i = issue_for(rng, p)
    if i is None:
        return None
    i["age"] = rng.choice(["after two trips", "after a couple of months", "after [3|4|5|6|7|8] months",
                           "on the first trip", "after only [2|3|6] weeks", "after about [9|10|11] months"])
    i["age"] = expand(rng, i["age"])
    return i


def x_old(rng, p):
    i = issue_for(rng, p, covered=False)
    if i is None:
        return None
    i["yrs"] = i["years"] + rng.randint(1, 3)
    i["ystr"] = f"{i['yrs']} years"
    return i


# -- reply builders ----------------------------------------------------------
def R(body):
    return f"{OPEN} {body} {CLOSE}"


# ===========================================================================
# RETURN
# ===========================================================================
T("return", "normal", "neutral",
  "[I'd like to|I want to|Can I] return the {a} I bought {ago}. [Never used|Barely touched], [just too heavy for me|I went with something smaller|my plans changed].",
  R("No problem, you're within our {win}-day return window for {noun}; start a return for your {p} from your Orders page for a prepaid label."),
  prod="any", extra=x_in_window)
T("return", "low", "neutral",
  "Changed my mind on the {a} (order {order}). How do I send {it_o} back?",
  R("Easy: you're within the {win}-day window for {noun}, so start a return from your Orders page and we'll email a prepaid label."),
  prod="any", extra=x_in_window)
T("return", "normal", "neutral",
  "[I bought|I got] the {a} {ago}. Is it too late to return {it_o}? [Never really used it.|Only tried it at home.]",
  R("Sorry, that's past our {win}-day return window for {noun}, but our warranty still covers any defects in your {p}."),
  prod="any", extra=x_out_window)
T("return", "normal", "negative",
  "Used the {a} once and honestly {it_s} [{was} rubbish|{was} a letdown|just {does}n't work for me]. I want my money back. Bought {it_o} {ago}.",
  R("Sorry the {p} disappointed; you're within our {win}-day return window for {noun}, so start a return and your refund follows within 5-7 business days."),
  prod={"tent", "sleeping_bag", "pad", "pack", "apparel", "headlamp", "poles", "filter", "chair"}, extra=x_in_window)
T("return", "normal", "neutral",
  "I sent the {a} back {date} and still haven't seen a refund. [Can you check?|Any update?|What's the holdup?]",
  R("Refunds reach your original payment method within 5-7 business days after the return arrives; we're checking on your {p} now."),
  prod="any")
T("return", "low", "neutral",
  "How do I return the {a}? Do I have to pay for [shipping|the label]?",
  R("Start a return from your Orders page for a prepaid label; $6.95 comes off refunds, or return your {p} free at any of our five stores."),
  prod="any")
T("return", "low", "neutral",
  "Can I return the {a} I ordered online at your {store} store?",
  R("Yes, all five stores accept online returns for free; just bring your {p} and the order number."),
  prod="any")
T("return", "low", "positive",
  "[Got|Received] {an}{a} as a gift [from my sister|for my birthday|from my team] - love the thought but I already have one! Can I swap it for store credit?",
  R("Thanks for asking! With a gift receipt or the order number, we'll refund the {p} as store credit on a Northwind gift card."),
  prod="any")
T("return", "normal", "neutral",
  "I fired up my {a} once and realised I don't need {it_o}. Can I still return {it_o}?",
  R("Stoves must be unused to be returned, so we can't take the {p} back, but it's covered by our 2-year stove warranty."),
  prod={"Emberjet Stove"})
T("return", "normal", "negative",
  "Wore my new {a} on a [10-mile|long|steep] hike and they gave me [awful blisters|sore heels]. Can I return them?",
  R("Sorry they hurt! Our one-time Fit Promise lets you swap worn footwear for another size or model within 30 days."),
  prod={"footwear"})
T("return", "low", "neutral",
  "Oops, I accidentally ordered the {a} twice. [Can I send one back?|How do I return the extra one?]",
  R("No problem, start a return for the extra {p} from your Orders page; you're well within the {win}-day window for {noun}."),
  prod="any", extra=lambda r, p: dict(win=KINDS[p["kind"]][0], noun=KINDS[p["kind"]][1]))
T("return", "normal", "neutral",
  "I bought the {a} in the clearance sale. Can I return {it_o}?",
  R("Final Sale clearance items can't be returned, but the full warranty on your {p} still applies if anything goes wrong."),
  prod="any")
T("return", "normal", "neutral",
  "The {a} in size {size} {is_} too [small|tight|big]. Can I exchange for a {size2}?",
  R("Of course! Exchanges ship free both ways within the {win}-day window for {noun}; start one from your Orders page and pick the new size."),
  prod={"footwear"}, trip="maybe",
  extra=lambda r, p: dict(size=(s := r.choice(SIZES[:-1])), size2=up_half(s), win=30, noun="footwear"))
T("return", "normal", "neutral",
  "The {a} I ordered in {size} is [too snug across the chest|too long in the sleeves|a bit big]. Can I swap it for a {size2}?",
  R("Sure! Exchanges ship free both ways within the 75-day window for apparel; start one from your Orders page."),
  prod={"apparel"}, trip="maybe",
  extra=lambda r, p: dict(size=(s := r.choice(["S", "M", "L", "XL"])), size2=r.choice([x for x in ["XS", "S", "M", "L", "XL", "XXL"] if x != s])))
T("return", "low", "neutral",
  "I'm a Summit member. Do I get longer to return the {a}?",
  R("Yes! Summit members get 30 extra days, so your return window for {noun} is {win} days instead of {base}."),
  prod="any", extra=lambda r, p: dict(win=KINDS[p["kind"]][0] + 30, base=KINDS[p["kind"]][0], noun=KINDS[p["kind"]][1]))

# ===========================================================================
# WARRANTY
# ===========================================================================
T("warranty", "high", "negative",
  "My {a} [broke|failed] {age}: {issue}. [Is this covered?|Can you help?|What are my options?]",
  R("Sorry about the {short} on your {p}; {cov}, so file a warranty claim with photos and we'll fix or replace it."),
  prod="any", trip="maybe", extra=x_issue)
T("warranty", "high", "negative",
  "I'm really disappointed. I paid ${paid} for the {a} and {age} {issue}. [I expected a lot better.|For that price this shouldn't happen.]",
  R("We're sorry, that's not the standard we aim for; {cov}, so send photos through a warranty claim and we'll make it right."),
  prod="any", extra=x_issue)
T("warranty", "normal", "neutral",
  "Quick warranty question about my {a}: {issue}. I bought {it_o} {age2}. Would that be covered?",
  R("Yes, {cov}; file a claim from the warranty page with your order number and photos, and we'll reply within 3 business days."),
  prod="any", extra=lambda r, p: (i := x_issue(r, p)) and {**i, "age2": r.choice(["last spring", "about a year ago", "a few months ago", "in the summer sale"] if i["years"] is None or i["years"] > 1 else ["a few months ago", "in the spring", "about six months ago"])})
T("warranty", "normal", "neutral",
  "My {a} {is_} about {ystr} old and {issue}. Is there anything you can do?",
  R("That's past the {years}-year warranty on your {p}, but {repair}; drop it at any store or mail it in."),
  prod="any", extra=x_old)
T("warranty", "low", "neutral",
  "[How do I make a warranty claim for my {a}?|What's the process for a warranty claim on the {a}?|Where do I start a warranty claim? It's for my {a}.]",
  R("File a claim from the warranty page with your order number and two or three photos; we reply within 3 business days."),
  prod="any")
T("warranty", "normal", "neutral",
  "I sent my {a} in for a warranty repair [two|three] weeks ago and haven't heard anything. [Any news?|Can you check?]",
  R("Our workshop assesses items within 10 business days of arrival; we're checking on your {p} and will email an update today."),
  prod="any")
T("warranty", "urgent", "negative",
  "I [smell gas|can smell gas] when I screw a canister onto my {a}[ and saw a little flame around the connection|]. Is it safe?? [We're camping right now.|]",
  R("Please stop using your Emberjet Stove and detach the canister outdoors away from flames; we'll express a replacement at no cost today."),
  prod={"Emberjet Stove"})
T("warranty", "urgent", "negative",
  "My {a} got [really hot|scorching hot] while charging and the battery looks swollen. [What should I do?|Is this dangerous?]",
  R("Please unplug your Beacon 900 Headlamp, keep it away from anything flammable and stop using it; we'll replace it at no cost today."),
  prod={"Beacon 900 Headlamp"})
T("warranty", "urgent", "negative",
  "One of my {a} collapsed on a steep descent [yesterday|on Sunday] and I fell and hurt my wrist. [I want to know why.|This could have been much worse.]",
  R("We're so sorry you were hurt; please stop using the poles and call our 24/7 safety line on 1-800-555-0142, option 1."),
  prod={"poles"})
T("warranty", "urgent", "negative",
  "The frame of my {a} snapped while my [dad|wife|friend] was sitting in it and [he|she|they] [hit the ground hard|hurt their back]. [Please call me.|This is serious.]",
  R("We're so sorry; please stop using the Gullwing Camp Chair and call our 24/7 safety line on 1-800-555-0142, option 1."),
  prod={"Gullwing Camp Chair"})
T("warranty", "urgent", "negative",
  "I think my {a} let untreated water through - [two of us got sick|we both have stomach bugs] after our trip and the housing has a hairline crack.",
  R("We're sorry you're unwell; please stop using the Tarnwater Squeeze Filter and call our 24/7 safety line on 1-800-555-0142, option 1."),
  prod={"Tarnwater Squeeze Filter"})
T("warranty", "high", "negative",
  "My {a} [is wetting through|leaks] at the [shoulders|hood|seams] after about [a year|eight months|18 months]. [It's supposed to be waterproof!|Very disappointing.]",
  R("Leaks on the Squall Shell Jacket are covered for 3 years; we'll send a prepaid label and our workshop will pressure-test it."),
  prod={"Squall Shell Jacket"}, trip="maybe")
T("warranty", "high", "negative",
  "My {a} let water in on the first wet hike, [about|only] [three|five|seven] months after I bought them. [Socks soaked.|Not great.]",
  R("Sorry about the wet feet; membrane leaks on the Ridgeback Mid Hiking Boot are covered for 1 year, so file a claim and we'll replace the pair."),
  prod={"Ridgeback Mid Hiking Boot"}, trip="maybe")
T("warranty", "high", "negative",
  "Pole on my {a} cracked in the wind last night. [Can I get a new one?|Do you sell replacement poles?] [We're mid-trip.|]",
  R("Sorry about that! Slide the included repair sleeve over the crack for now; tent poles are covered for 5 years, so we'll ship a replacement segment."),
  prod={"Kestrel 2 Tent", "Bramblecrest 4 Tent"}, trip="maybe")

# ===========================================================================
# SHIPPING
# ===========================================================================
def x_state(rng, p):
    z = rng.choice([1, 2, 3, 4, 5])
    states, fee, tr = ZONES[z]
    return dict(state=rng.choice(states), fee=fee, tr=tr, zone=z)


T("shipping", "low", "neutral",
  "[How much is shipping to|What does shipping cost to|Shipping cost to] {state}?",
  "{rep}", extra=lambda r, p: (d := x_state(r, p)) and {**d, "rep": R(
      f"Standard shipping to {d['state']} is {d['fee']} and takes {d['tr']} business days"
      + (", and it's free on orders of $99 or more." if d["zone"] < 5 else "; express isn't available there."))})
T("shipping", "normal", "neutral",
  "If I order the {a} today, will it get to me by {day}?",
  R("Choose express ($19.95, 1-2 business days) and order by 1 pm Pacific on a weekday for same-day dispatch of your {p}."),
  prod="any", trip="maybe", extra=lambda r, p: dict(day=r.choice(WEEKDAYS)))
T("shipping", "high", "negative",
  "The box was [crushed|soaked|torn open] when it arrived and my {a} {is_} [damaged|broken|ruined]. [Order {order}.|]",
  R("Sorry about that! Send photos of the {p} and the box within 7 days of delivery and we'll express a replacement at no cost."),
  prod="any", trip="maybe")
T("shipping", "high", "negative",
  "Tracking for order {order} hasn't moved in [11|12|14|15|16|18] days. [Is it lost?|Where is it??|What's going on?]",
  R("Sorry for the wait! We'll open a trace with the carrier and reship order {order} right away, without waiting for the trace."),
  trip="maybe")
T("shipping", "high", "negative",
  "I ordered the {a} but received [the wrong size|the wrong colour|a completely different item|someone else's order]. Order {order}.",
  R("Sorry for the mix-up! We'll express the correct {p} at no cost and email a prepaid label for the wrong item."),
  prod="any", trip="maybe")
T("shipping", "high", "negative",
  "Order {order} arrived but the {a} wasn't in the box. [The packing slip lists it.|Where is it?]",
  R("Sorry! Check for a split-shipment email first; if there's no sign of the {p} in another parcel, we'll express it at no cost."),
  prod="any")
T("shipping", "low", "neutral",
  "Do you ship to {country}? [Thinking of ordering a few things.|I'm moving there next month.|]",
  "{rep}", extra=lambda r, p: (c := r.choice(COUNTRIES + [(x, None) for x in NO_SHIP])) and dict(
      country=c[0], rep=R(f"Yes, we ship to {c[0]} for a flat ${c[1]}; duties and taxes are collected by the carrier on delivery.")
      if c[1] else R(f"Not yet, sorry; outside the US we ship to Canada, the UK, the EU, Australia and New Zealand.")))
T("shipping", "low", "neutral",
  "Why can't I add fuel canisters to my order? I live in {place}.",
  R("Fuel canisters ship by ground only to zones 1-4, so we can't send them to {place}; buy fuel near your trailhead instead."),
  extra=lambda r, p: dict(place=r.choice(["Alaska", "Hawaii", "Canada", "Australia", "the UK", "Puerto Rico"])))
T("shipping", "normal", "neutral",
  "I [put the wrong address on|made a typo in the address for] order {order}. Can you [fix|change] it?",
  R("If order {order} hasn't shipped yet we can update it; reply with the correct address and we'll sort it right away."),
  trip="maybe")
T("shipping", "low", "neutral",
  "Is shipping free if I just order the {a}?",
  "{rep}", prod="any", extra=lambda r, p: dict(rep=R(
      f"Yes, at {p['price_txt']} the {p['name']} gets free standard shipping to zones 1-4.")
      if p["price"] >= 99 else R(
      f"At {p['price_txt']}, an order of just the {p['name']} is under $99; add a bit more for free standard shipping to zones 1-4.")))
T("shipping", "high", "negative",
  "Tracking says order {order} was delivered {when} but [nothing is here|there's no parcel anywhere|I never got it].",
  "{rep}", extra=lambda r, p: (w := r.choice(["yesterday", "this morning", "three days ago", "last week"])) and dict(
      when=w, rep=R("Please give it 48 hours and check with neighbours; if it's still missing, we'll open a claim and reship or refund.")
      if w in ("yesterday", "this morning") else R("Sorry! We'll open a claim with the carrier and reship or refund within 3 business days.")))
T("shipping", "low", "neutral",
  "[Can you ship to a PO box?|Do you deliver to PO boxes?|I only have a PO box, is that OK?]",
  R("Yes, PO boxes get standard shipping; express shipping and fuel canisters can't go to PO boxes."))
T("shipping", "low", "neutral",
  "[How much is express shipping and how fast is it?|What does express delivery cost?|Do you have faster shipping?]",
  R("Express is $19.95 flat to zones 1-4 and arrives in 1-2 business days if you order by 1 pm Pacific on a weekday."))

# ===========================================================================
# ORDER STATUS
# ===========================================================================
T("order_status", "normal", "neutral",
  "[Where is my order|Any update on order|Can you check the status of order] {order}? I placed it {date}.",
  R("Orders ship within 1 business day and a tracking email follows; we're checking on order {order} for you now."),
  trip="maybe")
T("order_status", "normal", "neutral",
  "I really need the {a} from order {order} before {day}. [Has it shipped?|Will it make it?]",
  R("We're checking on order {order} now and will email you the tracking for your {p} as soon as it ships."),
  prod="any", trip="always", extra=lambda r, p: dict(day=r.choice(WEEKDAYS)))
T("order_status", "normal", "negative",
  "It's been {n} days since I ordered ({order}) and still nothing. [This is ridiculous.|Really not happy.|Seriously?]",
  R("Sorry for the wait on order {order}; we're checking with the warehouse and carrier now and will email you an update today."),
  extra=lambda r, p: dict(n=r.randint(6, 15)))
T("order_status", "normal", "neutral",
  "My {a} shows as backordered. When will it actually ship?",
  R("Backordered items ship as soon as stock arrives and we'll email you; you can also cancel the {p} any time before shipping."),
  prod="any", trip="maybe")
T("order_status", "normal", "neutral",
  "[I never got a confirmation email for my order.|No order confirmation in my inbox.|Did my order go through? No email yet.] [Did it go through?|Is my order real?|Worried I got charged for nothing.|]",
  R("Confirmations arrive within 15 minutes, so check your spam folder; your order also shows on the Orders page of your account."))
T("order_status", "normal", "neutral",
  "Only part of order {order} came today. Is the {a} coming separately?",
  R("Larger orders can ship in separate parcels with their own tracking emails; your packing slip shows which parcel has the {p}."),
  prod="any")
T("order_status", "normal", "neutral",
  "Please cancel order {order}, I placed it {mins} minutes ago by mistake.",
  R("You can cancel it yourself from your account for 60 minutes after checkout; if the button's gone, we'll stop order {order} before it ships."),
  extra=lambda r, p: dict(mins=r.choice([5, 10, 15, 20, 30, 40])))
T("order_status", "normal", "neutral",
  "Can I still cancel order {order}? I ordered it {date}.",
  R("We can cancel order {order} while it's Received or Processing; once it's Shipped you can return it instead."))
T("order_status", "low", "neutral",
  "Can I add {an}{a} to order {order}?",
  R("Items can't be added after checkout; place a second order for the {p} and we'll combine them if order {order} hasn't started processing."),
  prod="any")
T("order_status", "normal", "neutral",
  "Is my click and collect order {order} ready at the {store} store yet?",
  R("Most orders are ready within 4 hours and you'll get a ready-for-pickup email; we hold order {order} for 7 days."))
T("order_status", "low", "positive",
  "No rush at all, just wondering when my {a} will ship - [so excited for it!|can't wait to try it out!]",
  R("We're excited too! Orders ship within 1 business day, and your tracking email follows as soon as we dispatch the {p}."),
  prod="any")
T("order_status", "low", "neutral",
  "My order {order} has said 'Processing' since {date}. What does that mean?",
  R("Processing means it's being picked and packed; you'll get a tracking email as soon as order {order} ships."))

# ===========================================================================
# PRODUCT QUESTIONS
# ===========================================================================
def x_qa(rng, p):
    q, a = rng.choice(p["qa"])
    s = rng.choice(SIZES[:-1])
    return dict(q=q, ans=a, size=s, size_up=up_half(s))


T("product_question", "low", "neutral", "{q}", R("{ans}"), prod="any", trip="maybe", extra=x_qa)
T("product_question", "low", "neutral", "Quick question: {q}", R("{ans}"), prod="any", extra=x_qa)
T("product_question", "low", "positive",
  "[Thinking of buying|Really keen on|About to order] the {a}! {q}", R("Great pick! {ans}"), prod="any", extra=x_qa)
T("product_question", "low", "neutral",
  "How much {does} the {a} weigh?", R("Weight for the {p} is {weight}."), prod="any", trip="maybe")
T("product_question", "low", "neutral",
  "What colours {does} the {a} come in?", R("You can get the {p} in {colours}."),
  prod={p["name"] for p in PRODUCTS if p["colours"]})
T("product_question", "low", "neutral",
  "How much {is_} the {a}?", R("The price for the {p} is {price}, and standard shipping is free on orders of $99 or more to zones 1-4."),
  prod="any")
T("product_question", "low", "neutral",
  "Do you have the {a} in stock at your {store} store?",
  R("Each product page shows live stock for every store, updated every 15 minutes, and Click and Collect for the {p} is free."),
  prod="any")
T("product_question", "low", "neutral",
  "Can I rent the {a} before I buy one?",
  R("Yes, the {p} rents for ${rent} a day at our Cedar Hollow, Seattle, Denver and Bend stores."),
  prod={p["name"] for p in PRODUCTS if p["rent"]}, trip="maybe", extra=lambda r, p: dict(rent=p["rent"]))
T("product_question", "low", "neutral",
  "How should I clean my {a}?", R("{care}"),
  prod={p["name"] for p in PRODUCTS if p["care"]}, extra=lambda r, p: dict(care=p["care"]))
T("product_question", "low", "neutral",
  "Heading to {place} [next week|next month|in June]. {q}", R("{ans}"), prod="any", extra=lambda r, p: {**x_qa(r, p), "place": r.choice(PLACES)})

# ===========================================================================
# BILLING
# ===========================================================================
T("billing", "high", "negative",
  "[I've been charged twice for order {order}!|Two identical charges for order {order} on my card.|You billed me double for {order}.] [Please refund one.|Fix this please.|]",
  R("One charge is likely a card authorisation that drops off in 3-5 business days; if both remain after that, we'll refund the duplicate."))
T("billing", "urgent", "negative",
  "There's a [${amt}|${amt}.00] charge from Northwind on my card that I did NOT make. [Someone is using my card.|I never ordered anything.]",
  R("We've flagged this as urgent; please tell your card issuer too, and we'll freeze the related account and investigate within 1 business day."),
  extra=lambda r, p: dict(amt=r.choice([129, 248, 389, 512, 77, 301])))
T("billing", "normal", "neutral",
  "I saw the {a} for ${low} at {retailer}. Can you match that?",
  R("If it's the identical item in stock at {retailer}, we'll match it before purchase or within 14 days after; just send us the link."),
  prod="any",
  extra=lambda r, p: dict(low=p["price"] - r.choice([5, 10, 15, 20]), retailer=r.choice(RETAILERS)))
T("billing", "normal", "neutral",
  "Found the {a} cheaper on [an auction site|a marketplace seller's page|a liquidation site]. Price match?",
  R("Sorry, we can't match marketplace, auction or liquidation listings, but we do match authorised retailers' in-stock prices on the {p}."),
  prod="any")
T("billing", "normal", "neutral",
  "I bought the {a} {n} days ago and now it's on sale for less. [Can I get the difference back?|Any chance of a refund of the difference?]",
  "{rep}", prod="any", extra=lambda r, p: (n := r.choice([3, 5, 6, 9, 12, 20, 25, 30])) and dict(
      n=n, rep=R(f"Yes, our own price drops within 14 days of purchase qualify, so we'll refund the difference on your {p['name']}.")
      if n <= 14 else R(f"Sorry, price adjustments only apply within 14 days of purchase, so the {p['name']} doesn't qualify this time.")))
T("billing", "normal", "negative",
  "Code {code} isn't working at checkout. [Annoying.|It says invalid.|Help?]",
  R("Only one code works per order and codes don't apply to Final Sale items or gift cards; send us your cart and we'll take a look."),
  extra=lambda r, p: dict(code=r.choice(CODES)))
T("billing", "low", "neutral",
  "[How do I get the student discount?|Do you do student discounts?|Is there a discount for students?] [I'm at university.|I'm a grad student.|I'm in college.|]",
  R("Verify once through the student link on our Discounts page, and 10% off full-price items applies automatically for 12 months."))
T("billing", "low", "neutral",
  "[Do you have a discount for|Is there a deal for|Any discount for] [veterans|military|firefighters|EMTs|search and rescue volunteers]? [I served 8 years.|I volunteer with county SAR.|]",
  R("Yes, verify on our Discounts page or show ID in store for 15% off full-price items; it lasts 12 months."))
T("billing", "low", "neutral",
  "[How do I check the balance on a gift card?|How much is left on my gift card?|Got a Northwind gift card, how do I see the balance?]",
  R("Enter the 16-digit card number and 4-digit PIN on our gift card page, or ask at any store."))
T("billing", "normal", "negative",
  "I lost the gift card my [aunt|friend|boss] gave me with $[50|100|250] on it. [Is it gone forever?|Can you help?]",
  R("If you have the card number or the original receipt, we'll move the balance to a new card."))
T("billing", "low", "neutral",
  "Can I pay for the {a} in installments?",
  "{rep}", prod="any", extra=lambda r, p: dict(rep=R(
      "Yes, Trail Pay splits orders from $150 to $2,000 into 4 interest-free payments every 2 weeks.")
      if p["price"] >= 150 else R(
      f"Trail Pay covers orders from $150 to $2,000, so you'd need a bit more in your cart with the {p['name']}.")))
T("billing", "normal", "negative",
  "I cancelled order {order} [days ago|last week|on Monday] and the money is still pending on my card.",
  R("We only charge when an order ships, so the pending amount for order {order} is an authorisation that drops off within 3-5 business days."))
T("billing", "low", "neutral",
  "Can I get an itemised invoice for order {order}? [It's for my company.|Need it for expenses.]",
  R("Download an itemised PDF invoice for order {order} from your Orders page; you can add a company name first."))
T("billing", "normal", "negative",
  "[My card keeps getting declined at checkout.|Payment failed again.|Your site won't take my Visa.] [Tried three times.|It works everywhere else.|]",
  R("Declines are usually a billing address mismatch, so check the street number and ZIP; if it still fails, your bank can tell you why."))

# ===========================================================================
# ACCOUNT
# ===========================================================================
T("account", "normal", "neutral",
  "[The password reset email isn't arriving.|I asked for a password reset [twice|three times] and got nothing.|Reset password link never shows up in my inbox.|Where's the password reset email? Nothing here.|Trying to reset my password but no email comes through.]",
  R("Check your spam folder and give it 10 minutes; reset links last 30 minutes, so request a fresh one if it expired."))
T("account", "normal", "negative",
  "[I'm locked out of my account after too many tries.|My account says it's locked, I typed the password wrong a few times.|Can't log in, it says too many attempts.|Account got locked after I mistyped my password.] [Ugh.|So annoying.|Great.|]",
  R("After 5 failed sign-ins the account locks for 15 minutes; wait it out or reset your password to get back in."))
T("account", "urgent", "negative",
  "[Someone changed the email on my account and placed an order I didn't make!|I got an order confirmation for {n} items I never bought, I think my account was hacked.|Somebody logged into my Northwind account and changed my address!] [Help!|Please stop it!|Please freeze it now.|]",
  R("Please reset your password now; we've frozen the account, held open orders and will investigate within 1 business day."),
  extra=lambda r, p: dict(n=r.choice(["two", "three", "four"])))
T("account", "low", "neutral",
  "[How do I change the email address on my account?|I have a new email address, how do I update my account?|Need to switch my login email to my work address.|Can you update my account email? The old one is closed.]",
  R("Change it in Account settings; it takes effect once you click the link we send to the new address."))
T("account", "low", "neutral",
  "[Please delete my account.|I'd like my account and data removed.|How do I close my Northwind account?] [I don't use it anymore.|Moving abroad.|]",
  R("You can request deletion in Account settings and it's done within 30 days; note that any Trail Points are lost."))
T("account", "normal", "neutral",
  "My Trail Points from order {order} [never showed up|are missing|didn't get added].",
  R("Points post within 48 hours of shipping; if order {order} still isn't showing, we'll add them for you."))
T("account", "low", "neutral",
  "How many points do I need to reach {tier}?",
  "{rep}", extra=lambda r, p: (t := r.choice(["Summit", "Ridgeline"])) and dict(tier=t, rep=R(
      "Summit starts at 1,500 points earned in a calendar year, with 1.5 points per $1 and free express shipping.")
      if t == "Summit" else R("Ridgeline starts at 500 points earned in a calendar year, with free standard shipping and 10% off repairs.")))
T("account", "low", "neutral",
  "I [accidentally made two accounts|have two accounts with different emails|signed up twice by mistake]. [Can you merge them?|Can they be combined so my points are in one place?]",
  R("Yes, we can merge them, combining orders and Trail Points into the account you want to keep."))
T("account", "low", "negative",
  "[Stop sending me so many emails.|Too many marketing emails, please unsubscribe me.|I get three promo emails a week from you. Make it stop.|How do I turn off your newsletter?]",
  R("Sorry about that! Use the unsubscribe link or switch off the newsletter in Account settings; it can take up to 2 business days."))
T("account", "normal", "neutral",
  "[I lost my phone and can't get past two-step verification.|Got a new phone and now the login code goes to my old one.|My authenticator app was wiped and I can't sign in.] [How do I get in?|Help.|]",
  R("We'll verify you with your last order number and billing ZIP code, then reset two-step verification."))
T("account", "low", "neutral",
  "[Do my Trail Points expire?|How long do Trail Points last?|Will I lose my points if I don't shop for a while?]",
  R("Points expire 18 months after the month you earned them, and every 200 points makes a $10 reward."))
T("account", "low", "positive",
  "Just hit [600|900|1,200] Trail Points, yay! How do I use them?",
  R("Congrats! Every 200 points converts to a $10 reward you can use online or in store, just not on gift cards."))

# ===========================================================================
# FEEDBACK
# ===========================================================================
T("feedback", "low", "positive",
  "Just got back from {place} and the {a} {was} [brilliant|fantastic|perfect]. [Thanks!|Worth every penny.|]",
  R("So glad to hear the {p} did the job on your trip! Thanks for sharing it with us."),
  prod="any", extra=lambda r, p: dict(place=r.choice(PLACES)))
T("feedback", "low", "positive",
  "{staff} at your {store} store was [so helpful|amazing|super patient] fitting my {a}. [Please pass it on!|Give them a raise!]",
  R("Thank you! We'll pass your kind words on to {staff} and the {store} team, and enjoy the new gear."),
  prod={"footwear", "pack", "apparel"}, extra=lambda r, p: dict(staff=r.choice(STAFF)))
T("feedback", "normal", "negative",
  "Had a [pretty bad|frustrating|disappointing] experience at your {store} store today - [nobody helped me for 20 minutes|the staff member was rude|the checkout line was ridiculous].",
  R("Sorry your visit to our {store} store fell short; we'll share this with the store manager and reply personally within 3 business days."))
T("feedback", "low", "neutral",
  "You should [start selling|stock] {idea}. [Just a suggestion.|Would buy in a heartbeat.]",
  R("Great idea, thanks! We've passed your suggestion on to our product team."),
  extra=lambda r, p: dict(idea=r.choice(["kids' hiking boots", "bear canisters", "packrafts", "ski touring gear",
                                         "dog packs", "solar chargers", "freeze-dried meals"])))
T("feedback", "low", "negative",
  "Your {thing} is [really clunky|so slow|confusing] on my phone.",
  R("Sorry the {thing} gave you trouble; we've sent your feedback straight to our web team."),
  extra=lambda r, p: dict(thing=r.choice(["checkout", "website", "app", "returns page"])))
T("feedback", "low", "negative",
  "The box for my order was [three times|way] bigger than it needed to be. [Such a waste.|Come on.]",
  R("Fair point, thanks for flagging it; our boxes are recycled cardboard with paper tape, and we'll keep working on right-sizing them."))
T("feedback", "low", "neutral",
  "The {a} {is_} [great|good|solid] overall, but {con}.",
  R("Thanks for the honest review of the {p}; we've shared your note with our product team."),
  prod="any", extra=lambda r, p: dict(con={
      "tent": "there's a lot of condensation on cold mornings", "sleeping_bag": "the zip snags a bit",
      "pad": "it's a little noisy when I roll over", "pack": "the hipbelt pockets are small",
      "footwear": "the laces keep coming undone", "stove": "it's pretty loud", "cookware": "the handles get hot",
      "apparel": "the pockets sit a bit high", "headlamp": "the button is fiddly with gloves",
      "poles": "the straps feel a bit thin", "filter": "the flow is slow", "chair": "it sits quite low"}[p["kind"]]))
T("feedback", "low", "positive",
  "{agent} on your chat [sorted my problem in minutes|was brilliant|went above and beyond] yesterday. [Thank you!|Great service.]",
  R("Thanks so much! We'll make sure {agent} hears about this."),
  extra=lambda r, p: dict(agent=r.choice(AGENTS)))
T("feedback", "low", "positive",
  "Rented the {a} from your {store} store for a weekend and it was [great|perfect|super easy].",
  R("So glad the rental {p} worked out! Buy one within 14 days of returning it and 50% of the rental fee comes off."),
  prod={p["name"] for p in PRODUCTS if p["rent"]}, extra=lambda r, p: dict(store=r.choice(RENT_STORES)))
T("feedback", "low", "positive",
  "Your repair team fixed my {a} [in no time|perfectly|better than new]. [Thanks!|So happy.]",
  R("Thanks! Our repair team will love hearing the fix on your {p} worked out."), prod="any")
T("feedback", "normal", "negative",
  "Honestly the {a} let me down on {place}. [Expected more.|Not impressed.]",
  R("Sorry the {p} let you down; we've shared this with our product team, and if it's faulty our warranty has you covered."),
  prod="any", extra=lambda r, p: dict(place=r.choice(PLACES)))
T("feedback", "low", "positive",
  "[Traded in|Just traded in|Brought in] my old [tent|pack|jacket|fleece|headlamp] [through|for] Second Summit [and got store credit|at the {store} store]. [Love this programme!|What a great idea.|Great to see it get a second life.]",
  R("Thanks! Keeping gear in use is the whole point of Second Summit."))


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------
def order_no(rng):
    n = rng.randint(100000, 999999)
    canon = f"NW-{n}"
    shown = rng.choices([canon, f"#{canon}", f"nw-{n}", f"NW{n}"], weights=[7, 2, 1, 1])[0]
    return canon, shown


def date_str(rng):
    return rng.choice([f"on {rng.choice(MONTHS)} {rng.randint(1, 28)}", "last Monday", "last week",
                       f"on the {rng.choice(['2nd', '5th', '9th', '14th', '21st', '27th'])}", "a few days ago",
                       f"last {rng.choice(WEEKDAYS)}"])


def typo(rng, text, protect):
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if w.isalpha() and w.islower() and len(w) >= 5 and w not in protect]
    if not idx:
        return text
    for i in rng.sample(idx, min(len(idx), rng.choice([1, 1, 2]))):
        w = list(words[i])
        j = rng.randint(1, len(w) - 2)
        op = rng.choice(["swap", "drop", "dup"])
        if op == "swap":
            w[j], w[j + 1] = w[j + 1], w[j]
        elif op == "drop":
            del w[j]
        else:
            w.insert(j, w[j])
        words[i] = "".join(w)
    return " ".join(words)


def render(rng, t):
    prods = [p for p in PRODUCTS if t["prod"] and prod_ok(t, p)]
    for _ in range(50):
        p = rng.choice(prods) if prods else None
        slots = {}
        if t["extra"]:
            ex = t["extra"](rng, p)
            if ex is None:
                continue
            slots.update(ex)
        break
    else:
        raise RuntimeError("no product fits template: " + t["text"])
    canon, shown = order_no(rng)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    pl = bool(p and p["pl"])
    slots.update(order=shown, first=first, last=last, date=date_str(rng), store=rng.choice(STORES),
                 it_s="they" if pl else "it", it_o="them" if pl else "it", is_="are" if pl else "is",
                 was="were" if pl else "was", does="do" if pl else "does")
    if p:
        slots.update(a=rng.choice(p["aliases"]), p=p["name"], price=money(p), paid=p["price"],
                     weight=p["weight"], colours=p["colours"] or "", an="a pair of " if pl else "a ")
    if "q" in slots:
        slots["q"] = fill(rng, slots["q"], slots)
        slots["ans"] = fill(rng, slots["ans"], slots)
    body = fill(rng, t["text"], slots)
    pri = t["pri"]
    if rng.random() < 0.25:
        lead = rng.choice(CONTEXT[t["cat"]]).format(place=rng.choice(PLACES))
        body = lead + " " + body if rng.random() < 0.5 else body + " " + lead
    if t["trip"] == "always" or (t["trip"] == "maybe" and rng.random() < 0.3):
        clause, lvl = rng.choice(TRIPS)
        body += " " + clause
        if PRIORITIES.index(lvl) > PRIORITIES.index(pri):
            pri = lvl
    if t["sent"] == "negative" and rng.random() < 0.25:
        body += " " + rng.choice(NEG_ADD)
    if t["sent"] == "positive" and rng.random() < 0.25:
        body += " " + rng.choice(POS_ADD)
    greet = rng.choice(GREETS)
    sign = rng.choice(SIGNS).format(first=first, last=last)
    text = body
    if greet:
        text = greet + rng.choice([" ", " ", "\n"]) + text
    if sign:
        text = text + rng.choice([" ", "\n"]) + sign
    text = re.sub(r" ([.?!,])", r"\1", re.sub(r"[ ]{2,}", " ", text)).strip()
    protect = set()
    if p:
        for al in p["aliases"]:
            protect.update(al.lower().split())
    r = rng.random()
    if r < 0.10:
        text = typo(rng, text, protect)
    elif r < 0.15:
        text = text.lower().replace("'", "")
    reply_slots = dict(slots)
    reply_slots["order"] = canon
    reply = fill(rng, t["reply"], reply_slots)
    triage = {"category": t["cat"], "priority": pri, "product": p["name"] if p else "none",
              "sentiment": t["sent"], "reply": reply}
    return text, triage


def generate(seed, n_train, n_heldout):
    rng = random.Random(seed)
    by_cat = {c: [t for t in TEMPLATES if t["cat"] == c] for c in CATEGORIES}
    seen, items = set(), []
    total = n_train + n_heldout
    i = 0
    while len(items) < total:
        cat = CATEGORIES[i % len(CATEGORIES)]
        i += 1
        for _ in range(100):
            text, tri = render(rng, rng.choice(by_cat[cat]))
            if text not in seen:
                seen.add(text)
                items.append((text, tri))
                break
    heldout_idx = set(range(0, total, max(1, total // n_heldout))[:n_heldout])
    held = [items[k] for k in sorted(heldout_idx)]
    train = [items[k] for k in range(total) if k not in heldout_idx]
    rng.shuffle(train)
    rng.shuffle(held)
    return train, held


def to_line(text, tri):
    obj = {k: tri[k] for k in ("category", "priority", "product", "sentiment", "reply")}
    return json.dumps({"messages": [{"role": "user", "content": text},
                                    {"role": "assistant", "content": json.dumps(obj)}]})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--train", type=int, default=600)
    ap.add_argument("--heldout", type=int, default=60)
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    train, held = generate(args.seed, args.train, args.heldout)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("eval_split.jsonl", held)):
        with open(args.out / name, "w", encoding="utf-8", newline="\n") as f:
            for text, tri in rows:
                f.write(to_line(text, tri) + "\n")
    print(f"{len(TEMPLATES)} templates; wrote {len(train)} train and {len(held)} heldout tickets to {args.out}")


if __name__ == "__main__":
    main()
