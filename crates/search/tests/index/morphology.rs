use crate::helpers::{application, id, index_with, sorted_ids};

#[test]
fn a_russian_word_finds_its_forms() {
    let index = index_with(vec![
        application(1, "Ложки столовые"),
        application(2, "Купить ложку для кофе"),
        application(3, "Мешать ложкой"),
        application(4, "Набор из шести ложек"),
        application(5, "Вилки столовые"),
    ]);
    let expected = vec![id(1), id(2), id(3), id(4)];
    for query in ["ложка", "ложки", "Ложкой", "ложек", "ЛОЖКУ"] {
        assert_eq!(sorted_ids(&index, query), expected, "query {query:?}");
    }
}

#[test]
fn other_russian_words_find_their_forms() {
    let index = index_with(vec![
        application(1, "Тарелки глубокие"),
        application(2, "Нужна одна тарелка"),
        application(3, "Десять тарелок"),
        application(4, "Картриджи для принтеров"),
    ]);
    assert_eq!(sorted_ids(&index, "тарелка"), [id(1), id(2), id(3)]);
    assert_eq!(sorted_ids(&index, "тарелок"), [id(1), id(2), id(3)]);
    assert_eq!(sorted_ids(&index, "картридж принтер"), [id(4)]);
}

#[test]
fn an_english_word_finds_its_forms() {
    let index = index_with(vec![
        application(1, "Tea spoon"),
        application(2, "Stirring sticks"),
        application(3, "Printers for the office"),
    ]);
    assert_eq!(sorted_ids(&index, "spoons"), [id(1)]);
    assert_eq!(sorted_ids(&index, "stir"), [id(2)]);
    assert_eq!(sorted_ids(&index, "stirred"), [id(2)]);
    assert_eq!(sorted_ids(&index, "printer"), [id(3)]);
}

#[test]
fn yo_and_ye_are_the_same_letter() {
    let index = index_with(vec![
        application(1, "Чёрный чай"),
        application(2, "Черный кофе"),
        application(3, "Ёлочные игрушки"),
    ]);
    assert_eq!(sorted_ids(&index, "черный"), [id(1), id(2)]);
    assert_eq!(sorted_ids(&index, "чёрный"), [id(1), id(2)]);
    assert_eq!(sorted_ids(&index, "елочные"), [id(3)]);
    assert_eq!(sorted_ids(&index, "ЁЛОЧНЫЕ"), [id(3)]);
}

#[test]
fn case_does_not_matter() {
    let index = index_with(vec![
        application(1, "МОНИТОР Dell"),
        application(2, "клавиатура"),
    ]);
    assert_eq!(sorted_ids(&index, "монитор DELL"), [id(1)]);
    assert_eq!(sorted_ids(&index, "КЛАВИАТУРА"), [id(2)]);
}

#[test]
fn punctuation_is_ignored() {
    let index = index_with(vec![application(1, "Бумага (А4), 500 листов!!!")]);
    assert_eq!(sorted_ids(&index, "бумага а4"), [id(1)]);
    assert_eq!(sorted_ids(&index, "«бумага» - а4; 500?"), [id(1)]);
}

#[test]
fn mixed_languages_in_one_text() {
    let index = index_with(vec![application(1, "Кабели HDMI для мониторов")]);
    assert_eq!(sorted_ids(&index, "кабель hdmi монитор"), [id(1)]);
}
