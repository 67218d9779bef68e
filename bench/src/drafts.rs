//! Realistic application drafts: Russian and English titles, an optional description and one to
//! five items, drawn from a seeded generator so every run files the same data.

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use zayavki_proto::applications::v1 as pb;

const GOODS_RU: &[&str] = &[
    "бумага офисная А4",
    "картриджи для принтера",
    "стулья офисные",
    "ноутбуки",
    "мониторы 27 дюймов",
    "кофе в зёрнах",
    "ручки шариковые",
    "папки-регистраторы",
    "кабели HDMI",
    "огнетушители",
    "спецодежда",
    "моющие средства",
    "серверные стойки",
    "лампы светодиодные",
];
const GOODS_EN: &[&str] = &[
    "printer paper",
    "toner cartridges",
    "office chairs",
    "laptops",
    "27-inch monitors",
    "coffee beans",
    "ballpoint pens",
    "lever arch files",
    "HDMI cables",
    "fire extinguishers",
    "work uniforms",
    "cleaning supplies",
    "server racks",
    "LED lamps",
];
const PLACES_RU: &[&str] = &[
    "бухгалтерии",
    "отдела продаж",
    "склада № 2",
    "IT-отдела",
    "приёмной",
    "столовой",
    "филиала в Казани",
    "переговорной на 5 этаже",
];
const PLACES_EN: &[&str] = &[
    "accounting",
    "the sales team",
    "warehouse 2",
    "the IT department",
    "reception",
    "the canteen",
    "the Kazan branch",
    "the 5th floor meeting room",
];
const DESCRIPTIONS: &[&str] = &[
    "Срок поставки — до конца квартала. Счёт выставить на юрлицо.",
    "Замена вышедшего из строя оборудования, согласовано с руководителем.",
    "Needed before the audit next month; quotes from two suppliers attached.",
    "Quarterly restock, same supplier as last time.",
];

/// Drafts from one seeded generator.
pub struct DraftGenerator {
    random: StdRng,
}

impl DraftGenerator {
    pub fn new(seed: u64) -> Self {
        Self {
            random: StdRng::seed_from_u64(seed),
        }
    }

    /// One application: half in Russian, half in English; a description on about half of them.
    pub fn draft(&mut self) -> pb::NewApplication {
        let russian = self.random.random_bool(0.5);
        let (goods, places) = if russian {
            (GOODS_RU, PLACES_RU)
        } else {
            (GOODS_EN, PLACES_EN)
        };
        let good = pick(&mut self.random, goods);
        let place = pick(&mut self.random, places);
        let number: u32 = self.random.random_range(1..10_000);
        let title = if russian {
            format!("Закупка: {good} для {place}, заявка № {number}")
        } else {
            format!("Purchase of {good} for {place}, request #{number}")
        };
        let description = self
            .random
            .random_bool(0.5)
            .then(|| pick(&mut self.random, DESCRIPTIONS).to_owned());
        let item_count = self.random.random_range(1..=5);
        let items = (0..item_count)
            .map(|_| self.item(goods))
            .collect::<Vec<_>>();
        pb::NewApplication {
            title,
            description,
            items,
        }
    }

    /// `count` drafts.
    pub fn drafts(&mut self, count: usize) -> Vec<pb::NewApplication> {
        (0..count).map(|_| self.draft()).collect()
    }

    fn item(&mut self, goods: &[&str]) -> pb::ApplicationItem {
        let minor: u32 = self.random.random_range(100..=500_000);
        pb::ApplicationItem {
            name: pick(&mut self.random, goods).to_owned(),
            quantity: self.random.random_range(1..=50),
            unit_price: format!("{}.{:02}", minor / 100, minor % 100),
        }
    }
}

fn pick<'a>(random: &mut StdRng, choices: &[&'a str]) -> &'a str {
    choices.choose(random).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_drafts() {
        let first = DraftGenerator::new(7).drafts(20);
        let second = DraftGenerator::new(7).drafts(20);
        assert_eq!(first, second);
        assert!(
            first
                .iter()
                .all(|draft| (1..=5).contains(&draft.items.len()))
        );
    }
}
