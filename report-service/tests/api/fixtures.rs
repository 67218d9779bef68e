//! The applications most report tests read: Cyrillic names, quotes and separators in text,
//! amounts whose cents must survive exactly.

use uuid::Uuid;

use crate::helpers::TestSystem;

/// What the fixture filed.
pub struct Filed {
    /// anna's «Канцелярия для отдела»: 2 × 125.50 + 10 × 0.15 = 252.50, NEW.
    pub stationery: Uuid,
    /// anna's «Стулья»: 3 × 4999.99 = 14999.97, COMPLETED.
    pub chairs: Uuid,
    /// boris's «Картриджи, "HP"»: 1 × 1234.56, NEW.
    pub cartridges: Uuid,
}

pub const ALL_TOTAL: &str = "16487.03";
pub const ANNA_TOTAL: &str = "15252.47";

pub async fn file_applications(system: &TestSystem) -> Filed {
    let stationery = system
        .file(
            "anna",
            "Канцелярия для отдела",
            &[("Бумага А4", 2, "125.50"), ("Ручки «Пилот»", 10, "0.15")],
        )
        .await;
    let chairs = system
        .file("anna", "Стулья", &[("Стул офисный", 3, "4999.99")])
        .await;
    system.complete(chairs).await;
    let cartridges = system
        .file(
            "boris",
            "Картриджи, \"HP\"",
            &[("Картридж; чёрный", 1, "1234.56")],
        )
        .await;
    Filed {
        stationery,
        chairs,
        cartridges,
    }
}
