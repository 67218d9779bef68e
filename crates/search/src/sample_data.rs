//! Realistic generated applications for benchmarks and tests, behind the `sample-data` feature
//! that only this crate's tests and examples and the benchmarks enable: the word tables stay out
//! of the services.
//!
//! Deterministic: the same `count` and `seed` always give the same documents, on every
//! platform and version, because the generator is a self-contained SplitMix64.

use crate::document::ApplicationDocument;
use chrono::{DateTime, TimeDelta, Utc};

/// `count` applications, about three quarters in Russian and the rest in English, spread over
/// 2023–2024, in all statuses, from a couple of hundred applicants.
pub fn generate_realistic_documents(
    count: usize,
    seed: u64,
) -> impl Iterator<Item = ApplicationDocument> {
    let mut random = SplitMix64(seed);
    (0..count).map(move |_| random_document(&mut random))
}

struct Category {
    name_ru: &'static str,
    name_en: &'static str,
    items_ru: &'static [&'static str],
    items_en: &'static [&'static str],
}

const CATEGORIES: &[Category] = &[
    Category {
        name_ru: "канцтовары",
        name_en: "office supplies",
        items_ru: &[
            "Бумага офисная А4, 500 листов",
            "Ручка шариковая синяя",
            "Карандаш чернографитный HB",
            "Степлер на 25 листов",
            "Скобы для степлера №24/6",
            "Папка-регистратор 75 мм",
            "Блокнот на спирали А5",
            "Стикеры для заметок 76×76",
            "Маркер-текстовыделитель жёлтый",
            "Ластик",
            "Скрепки канцелярские 28 мм",
            "Клей-карандаш",
            "Ножницы офисные",
            "Конверты С4 с отрывной лентой",
            "Калькулятор настольный",
        ],
        items_en: &[
            "A4 copy paper, 500 sheets",
            "Blue ballpoint pen",
            "HB pencil",
            "Stapler, 25 sheets",
            "Staples 24/6",
            "Lever arch file 75 mm",
            "Spiral notebook A5",
            "Sticky notes 3x3",
            "Yellow highlighter",
            "Eraser",
            "Paper clips 28 mm",
            "Glue stick",
            "Office scissors",
            "C4 envelopes, peel and seal",
            "Desktop calculator",
        ],
    },
    Category {
        name_ru: "посуда для кухни",
        name_en: "kitchenware",
        items_ru: &[
            "Ложка столовая из нержавеющей стали",
            "Ложка чайная",
            "Вилка столовая",
            "Нож кухонный поварской",
            "Тарелка глубокая фарфоровая",
            "Тарелка десертная",
            "Кружка керамическая 350 мл",
            "Стакан стеклянный",
            "Чайник электрический 1,7 л",
            "Кастрюля 5 л с крышкой",
            "Сковорода с антипригарным покрытием",
            "Доска разделочная бамбуковая",
            "Салфетки бумажные",
            "Губки для мытья посуды",
            "Кофемашина капсульная",
        ],
        items_en: &[
            "Stainless steel tablespoon",
            "Teaspoon",
            "Dinner fork",
            "Chef's knife",
            "Porcelain soup plate",
            "Dessert plate",
            "Ceramic mug 350 ml",
            "Drinking glass",
            "Electric kettle 1.7 L",
            "Stock pot 5 L with lid",
            "Non-stick frying pan",
            "Bamboo cutting board",
            "Paper napkins",
            "Dish sponges",
            "Capsule coffee machine",
            "Stirring spoons",
        ],
    },
    Category {
        name_ru: "IT-оборудование",
        name_en: "IT equipment",
        items_ru: &[
            "Ноутбук 15,6\" Core i5, 16 ГБ",
            "Монитор 27\" IPS",
            "Клавиатура беспроводная",
            "Мышь оптическая",
            "Картридж для принтера HP 85A",
            "МФУ лазерное",
            "Коммутатор сетевой на 24 порта",
            "Кабель HDMI 2 м",
            "Флешка USB 64 ГБ",
            "Внешний жёсткий диск 2 ТБ",
            "Веб-камера Full HD",
            "Гарнитура с микрофоном",
            "ИБП 1500 ВА",
            "Док-станция USB-C",
            "Роутер Wi-Fi 6",
        ],
        items_en: &[
            "Laptop 15.6\" Core i5, 16 GB",
            "27\" IPS monitor",
            "Wireless keyboard",
            "Optical mouse",
            "Toner cartridge HP 85A",
            "Laser multifunction printer",
            "24-port network switch",
            "HDMI cable 2 m",
            "USB flash drive 64 GB",
            "External hard drive 2 TB",
            "Full HD webcam",
            "Headset with microphone",
            "UPS 1500 VA",
            "USB-C docking station",
            "Wi-Fi 6 router",
        ],
    },
    Category {
        name_ru: "офисная мебель",
        name_en: "office furniture",
        items_ru: &[
            "Стул офисный на колёсах",
            "Кресло руководителя кожаное",
            "Стол письменный 140×70",
            "Шкаф для документов",
            "Тумба мобильная с замком",
            "Стеллаж металлический",
            "Вешалка напольная",
            "Доска маркерная 90×120",
        ],
        items_en: &[
            "Office chair on casters",
            "Leather executive chair",
            "Writing desk 140x70",
            "Filing cabinet",
            "Lockable mobile pedestal",
            "Metal shelving unit",
            "Coat stand",
            "Whiteboard 90x120",
        ],
    },
    Category {
        name_ru: "хозяйственные товары",
        name_en: "cleaning supplies",
        items_ru: &[
            "Мыло жидкое 5 л",
            "Бумага туалетная",
            "Полотенца бумажные",
            "Мешки для мусора 120 л",
            "Средство для мытья посуды",
            "Перчатки резиновые",
            "Швабра с отжимом",
            "Освежитель воздуха",
        ],
        items_en: &[
            "Liquid soap 5 L",
            "Toilet paper",
            "Paper towels",
            "Trash bags 120 L",
            "Dish soap",
            "Rubber gloves",
            "Mop with wringer",
            "Air freshener",
        ],
    },
    Category {
        name_ru: "продукты для кухни",
        name_en: "pantry supplies",
        items_ru: &[
            "Кофе в зёрнах 1 кг",
            "Чай чёрный пакетированный",
            "Сахар-рафинад",
            "Вода питьевая 19 л",
            "Печенье к чаю",
            "Сливки порционные",
        ],
        items_en: &[
            "Coffee beans 1 kg",
            "Black tea bags",
            "Sugar cubes",
            "Drinking water 19 L",
            "Biscuits",
            "Coffee creamer portions",
        ],
    },
];

const DEPARTMENTS_RU: &[&str] = &[
    "бухгалтерии",
    "отдела продаж",
    "отдела кадров",
    "IT-отдела",
    "столовой",
    "склада",
    "приёмной",
    "юридического отдела",
    "переговорной",
    "филиала в Казани",
    "нового офиса",
];

const DEPARTMENTS_EN: &[&str] = &[
    "accounting",
    "sales team",
    "HR department",
    "IT department",
    "canteen",
    "warehouse",
    "reception",
    "legal team",
    "meeting room",
    "Kazan branch",
    "new office",
];

const REASONS_RU: &[&str] = &[
    "Старые пришли в негодность.",
    "В связи с расширением штата.",
    "Плановая замена раз в год.",
    "Текущие запасы закончились.",
    "Нужно к началу квартала.",
    "Для новых сотрудников.",
    "Предыдущая поставка была с браком.",
];

const NOTES_RU: &[&str] = &[
    "Доставка на склад до пятницы.",
    "Согласовано с руководителем отдела.",
    "Бюджет согласован, счёт прилагается.",
    "Желательно у постоянного поставщика.",
    "Можно аналог, если дешевле.",
    "Просьба уведомить о сроках поставки.",
];

const REASONS_EN: &[&str] = &[
    "The old ones are worn out.",
    "The team is growing.",
    "Scheduled yearly replacement.",
    "We have run out.",
    "Needed before the start of the quarter.",
    "For new hires.",
    "The previous delivery was faulty.",
];

const NOTES_EN: &[&str] = &[
    "Please deliver to the warehouse by Friday.",
    "Approved by the head of department.",
    "Budget approved, invoice attached.",
    "Preferably from our usual supplier.",
    "An equivalent is fine if cheaper.",
    "Please let us know the delivery date.",
];

const SURNAMES: &[&str] = &[
    "ivanov",
    "petrova",
    "sidorov",
    "smirnova",
    "kuznetsov",
    "popova",
    "vasiliev",
    "sokolova",
    "mikhailov",
    "novikova",
    "fedorov",
    "morozova",
    "volkov",
    "alekseeva",
    "lebedev",
    "semenova",
    "egorov",
    "pavlova",
    "kozlov",
    "stepanova",
    "nikolaev",
    "orlova",
    "andreev",
    "makarova",
    "zakharov",
    "zaitseva",
    "solovyov",
    "borisova",
    "yakovlev",
    "grigorieva",
    "romanov",
    "vorobyova",
    "smith",
    "johnson",
    "brown",
    "garcia",
    "miller",
    "davis",
    "wilson",
    "taylor",
];

const INITIALS: &[&str] = &["a", "d", "e", "i", "m"];

/// Statuses with their relative frequency.
const WEIGHTED_STATUSES: &[(&str, u64)] = &[
    ("NEW", 30),
    ("PROCESSING", 25),
    ("COMPLETED", 30),
    ("CANCELLED", 8),
    ("REJECTED", 7),
];

/// 2023-01-01T00:00:00Z.
const FIRST_APPLIED_AT_SECONDS: i64 = 1_672_531_200;
const APPLIED_AT_SPAN_SECONDS: u64 = 2 * 365 * 24 * 60 * 60;

fn random_document(random: &mut SplitMix64) -> ApplicationDocument {
    let id = uuid::Builder::from_random_bytes(random.bytes16()).into_uuid();
    let category = random.pick(CATEGORIES);
    let russian = random.below(4) != 0;
    let (items, departments, reasons, notes) = if russian {
        (category.items_ru, DEPARTMENTS_RU, REASONS_RU, NOTES_RU)
    } else {
        (category.items_en, DEPARTMENTS_EN, REASONS_EN, NOTES_EN)
    };
    let item_count = 1 + random.below(4) as usize;
    let mut item_names: Vec<String> = Vec::with_capacity(item_count);
    while item_names.len() < item_count {
        let item = random.pick(items).to_string();
        if !item_names.contains(&item) {
            item_names.push(item);
        }
    }
    let main_item = item_names[0].as_str();
    let department = random.pick(departments);
    let quantity = [1, 2, 3, 5, 10, 12, 20, 50, 100][random.below(9) as usize];
    let category_name = if russian {
        category.name_ru
    } else {
        category.name_en
    };
    let title = if russian {
        match random.below(5) {
            0 => format!("{main_item} для {department}"),
            1 => format!("Закупка: {}", lowercase_first(main_item)),
            2 => format!("Срочно: {}, {quantity} шт.", lowercase_first(main_item)),
            3 => format!("Пополнение запасов: {category_name} для {department}"),
            _ => format!("{main_item} — замена вышедших из строя"),
        }
    } else {
        match random.below(5) {
            0 => format!("{main_item} for the {department}"),
            1 => format!("Purchase request: {}", lowercase_first(main_item)),
            2 => format!("Urgent: {} x{quantity}", lowercase_first(main_item)),
            3 => format!("Restock {category_name} for the {department}"),
            _ => format!("Replacement {}", lowercase_first(main_item)),
        }
    };
    let description = (random.below(5) != 0).then(|| {
        let request = if russian {
            format!(
                "Прошу закупить {quantity} шт.: {}.",
                lowercase_first(main_item)
            )
        } else {
            format!("Please order {quantity} x {}.", lowercase_first(main_item))
        };
        let mut sentences = vec![request, random.pick(reasons).to_string()];
        if random.below(2) == 0 {
            sentences.push(random.pick(notes).to_string());
        }
        sentences.join(" ")
    });
    let applicant = format!("{}.{}", random.pick(INITIALS), random.pick(SURNAMES));
    let status = random.weighted(WEIGHTED_STATUSES).to_string();
    let applied_at = DateTime::<Utc>::from_timestamp(FIRST_APPLIED_AT_SECONDS, 0)
        .unwrap_or_default()
        + TimeDelta::seconds(random.below(APPLIED_AT_SPAN_SECONDS) as i64)
        + TimeDelta::microseconds(random.below(1_000_000) as i64);
    ApplicationDocument {
        id,
        applicant,
        title,
        description,
        item_names,
        status,
        applied_at,
    }
}

fn lowercase_first(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        // Keep abbreviations such as "HDMI", "МФУ", "USB" as written.
        Some(first) if !characters.next().is_some_and(char::is_uppercase) => {
            first.to_lowercase().chain(text.chars().skip(1)).collect()
        }
        _ => text.to_string(),
    }
}

/// SplitMix64: tiny, fast, and fixed forever, unlike library generators whose streams may
/// change between versions.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    /// A number in `0..bound` (`bound` > 0); the modulo bias is irrelevant for test data.
    fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    fn pick<'a, T>(&mut self, choices: &'a [T]) -> &'a T {
        &choices[self.below(choices.len() as u64) as usize]
    }

    fn weighted<'a>(&mut self, choices: &'a [(&'a str, u64)]) -> &'a str {
        let total: u64 = choices.iter().map(|(_, weight)| weight).sum();
        let mut roll = self.below(total);
        for (choice, weight) in choices {
            if roll < *weight {
                return choice;
            }
            roll -= weight;
        }
        choices[choices.len() - 1].0
    }

    fn bytes16(&mut self) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::document::STATUSES;

    #[test]
    fn is_deterministic() {
        let first: Vec<_> = generate_realistic_documents(50, 7).collect();
        let second: Vec<_> = generate_realistic_documents(50, 7).collect();
        let other_seed: Vec<_> = generate_realistic_documents(50, 8).collect();
        assert_eq!(first, second);
        assert_ne!(first, other_seed);
    }

    #[test]
    fn documents_look_real() {
        let documents: Vec<_> = generate_realistic_documents(2_000, 1).collect();
        let ids: HashSet<_> = documents.iter().map(|document| document.id).collect();
        assert_eq!(ids.len(), documents.len());
        let statuses: HashSet<_> = documents.iter().map(|d| d.status.as_str()).collect();
        assert_eq!(statuses, STATUSES.into_iter().collect());
        let russian = documents
            .iter()
            .filter(|d| d.title.chars().any(|c| ('а'..='я').contains(&c)))
            .count();
        assert!(
            (1_200..1_800).contains(&russian),
            "{russian} Russian titles"
        );
        assert!(documents.iter().all(|d| !d.item_names.is_empty()));
        assert!(documents.iter().any(|d| d.description.is_none()));
        assert!(
            documents
                .iter()
                .all(|d| d.applied_at.timestamp() >= FIRST_APPLIED_AT_SECONDS)
        );
    }
}
